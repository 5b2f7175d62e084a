"""What a listing yields: an object, a subdirectory, the end of a page.

The native client makes them from a ListObjectsV2 answer (list_page.py) and
put's bucket index (put/bucket_index.py, put/index_window.py) reads them;
they live here, beside the requests, so that the transport imports no stage.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Listed", "PageEnd", "Subdirectory"]


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
