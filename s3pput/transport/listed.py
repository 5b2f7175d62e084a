"""What a listing yields: kept apart from listing.py only so that window.py can import it.

listing.py builds windows (window.py) and window.py reads these types; with
them in listing.py the two would import each other. listing.py re-exports
them, so ``from s3pput.put.bucket_index import Listed`` keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Listed", "ListingUnavailableError", "PageEnd", "Subdirectory"]


@dataclass(frozen=True)
class Listed:
    """One object as a listing shows it."""

    key: str
    etag: str
    size: int
    modified: str = ""
    """LastModified as the listing gives it (ISO 8601); "" when not known."""


@dataclass(frozen=True)
class Subdirectory:
    """A listing's CommonPrefix: a directory with at least one object somewhere below it."""

    prefix: str


@dataclass(frozen=True)
class PageEnd:
    """Where one page of a listing stopped, with more to follow: the store resumes past ``after``.

    Yielded between pages (never after the last), so that a reader knows
    which keys a store that resumes by another order than it walks could
    have skipped (listing_order.PageEnds).
    """

    after: str


class ListingUnavailableError(Exception):
    """The store will not list this prefix (no s3:ListBucket, say): use HEAD instead."""
