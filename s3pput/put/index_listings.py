"""What the bucket index holds of one listing: a directory's objects, or a tree's.

A directory listing (delimiter "/") gives its objects and which
subdirectories hold anything; a tree listing (no delimiter) gives every key
under a prefix, filled page by page while questions wait on it. Each says
of a key: listed, absent, or not sure (a page end could have lost it; no
listing held covers it). Plain state and the questions it answers: the
requests, the threads and the locks are bucket_index.py's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, TypeAlias

from s3pput.put.listing_order import InOrder, PageEnds
from s3pput.transport.listed import Listed

__all__ = [
    "NOT_A_TREE",
    "TOO_BIG",
    "UNLISTABLE",
    "Answer",
    "DirectoryListing",
    "NotATree",
    "TooBig",
    "Tree",
    "Unsure",
    "ancestors",
    "parent_prefix",
]


class TooBig:
    """Marks a directory whose listing was not kept, or could not be had."""


TOO_BIG: Final = TooBig()
"""Too many keys to keep: a window reads it (or HEAD, without ``list_after``)."""
UNLISTABLE: Final = TooBig()
"""Listing it was refused: HEAD."""
_NO_OBJECTS: Final[Mapping[str, Listed]] = MappingProxyType({})
"""What a tree says of a directory it does not hold: nothing (never written to)."""


@dataclass
class DirectoryListing:
    """One listed directory: its objects, and which subdirectories hold anything."""

    objects: dict[str, Listed] = field(default_factory=dict)
    children: set[str] = field(default_factory=set)
    ends: PageEnds = field(default_factory=PageEnds)


class Unsure(enum.Enum):
    """What a listing answers when it cannot say whether a key exists."""

    UNANSWERED = "no listing held here covers the key"
    DOUBTFUL = "the listing lacks the key, but a page end could have lost it: HEAD"


Answer: TypeAlias = Listed | Unsure | None
"""What one listing says of a key: listed, absent, or not sure."""


@dataclass
class Tree:
    """What is under one prefix, by directory, filled page by page as the listing arrives.

    S3 lists keys in UTF-8 binary order (Python's ``str`` order), so a key
    the listing has passed is known as soon as its page is in: a question
    about it need not wait for the rest of the tree. Not on every store
    (listing_order.py): progress answers only for keys every store's walk
    would have listed by now, and only while the keys come in order.
    """

    directories: dict[str, dict[str, Listed]] = field(default_factory=dict)
    size: int = 0
    order: InOrder = field(default_factory=InOrder)
    """How far the listing has got, and whether it came in byte order."""
    ends: PageEnds = field(default_factory=PageEnds)
    complete: bool = False
    too_big: bool = False
    """Listing stopped at the tree limit: keys it has not shown are not known here."""
    error: BaseException | None = None

    def take(self, item: Listed) -> bool:
        """Hold one listed object; False if it came out of byte order."""
        self.directories.setdefault(parent_prefix(item.key), {})[item.key] = item
        self.size += 1
        return self.order.take(item.key)

    def found(self, key: str) -> Listed | None:
        """The object listed (or written by this run) at ``key``, if any so far."""
        return self.directories.get(parent_prefix(key), _NO_OBJECTS).get(key)

    def answers(self, key: str) -> bool:
        """Whether this tree knows if ``key`` exists (waiting for more pages may change that).

        A key listed is known whatever the order; an absent one only once
        the listing is complete, or has passed it in order.
        """
        return self.complete or self.found(key) is not None or self.order.passed(key)

    def settled(self, key: str) -> bool:
        """Whether waiting longer changes nothing for ``key``."""
        return self.answers(key) or self.too_big or self.error is not None


class NotATree:
    """Marks a prefix that cannot be listed as a tree (denied, or forgotten for memory)."""


NOT_A_TREE: Final = NotATree()


def parent_prefix(key: str) -> str:
    """The "directory" part of a key, with its trailing slash ("" at the top)."""
    return key[: key.rfind("/") + 1]


def ancestors(directory: str) -> list[str]:
    """The directories above ``directory``, outermost first: a/b/c/ gives a/ and a/b/."""
    parts = directory.split("/")[:-2]
    return ["/".join(parts[: depth + 1]) + "/" for depth in range(len(parts))]
