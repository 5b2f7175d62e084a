"""What S3 holds at a key, from one LIST per directory instead of one HEAD per key.

``--put update`` and ``--put add`` must know, for every file, whether its key
exists and what its ETag is. A HEAD per key costs a request (and botocore's
Python overhead) per file; walk emits each directory's files together, so
listing that directory once answers for up to 1,000 keys per request.
Memory stays bounded: a few recent directories are kept, and a directory too
big to keep falls back to HEAD.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

__all__ = ["DirectoryIndex", "Listed", "ListingUnavailableError", "parent_prefix"]

Head: TypeAlias = dict[str, Any]
"""HeadObject's answer: ETag, ContentLength, Metadata..."""

MAX_DIRECTORIES: Final = 64
MAX_ENTRIES: Final = 200_000
"""A directory with more keys than this is not kept; its keys are HEADed instead."""


@dataclass(frozen=True)
class Listed:
    """One object as a listing shows it."""

    key: str
    etag: str
    size: int


class ListingUnavailableError(Exception):
    """The store will not list this prefix (no s3:ListBucket, say): use HEAD instead."""


class _TooBig:
    """Marks a directory whose listing was not kept, or could not be had."""


_TOO_BIG: Final = _TooBig()


def parent_prefix(key: str) -> str:
    """The "directory" part of a key, with its trailing slash ("" at the top)."""
    return key[: key.rfind("/") + 1]


class DirectoryIndex:
    """Answer HEAD-like questions about keys from cached directory listings.

    ``list_directory(prefix)`` yields the objects directly under ``prefix``
    (a LIST with delimiter "/"); ``head(key)`` is the fallback. Both are
    injected, so tests and other stores can supply their own. Thread-safe:
    concurrent questions about one directory share a single listing.
    """

    def __init__(
        self,
        list_directory: Callable[[str], Iterable[Listed]],
        head: Callable[[str], Head | None],
        *,
        max_directories: int = MAX_DIRECTORIES,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._list = list_directory
        self._head = head
        self._max_directories = max_directories
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._directories: OrderedDict[str, dict[str, Listed] | _TooBig] = OrderedDict()
        self._loading: dict[str, threading.Event] = {}
        self.lists = 0
        """How many directories were listed (for logs and benchmarks)."""

    def lookup(self, key: str) -> Head | None:
        """Return a HEAD-like dict for ``key`` (ETag, ContentLength), or None if absent.

        The dict has no "Metadata" when it came from a listing: callers that
        need metadata (multipart ETags) ask ``head`` themselves.
        """
        entries = self._entries(parent_prefix(key))
        if isinstance(entries, _TooBig):
            return self._head(key)
        found = entries.get(key)
        if found is None:
            return None
        return {"ETag": f'"{found.etag}"', "ContentLength": found.size}

    def remember(self, key: str, etag: str, size: int) -> None:
        """Note an object this run wrote, so a later question about it sees it."""
        with self._lock:
            entries = self._directories.get(parent_prefix(key))
            if isinstance(entries, dict):
                entries[key] = Listed(key, etag, size)

    def _entries(self, prefix: str) -> dict[str, Listed] | _TooBig:
        while True:
            with self._lock:
                cached = self._directories.get(prefix)
                if cached is not None:
                    self._directories.move_to_end(prefix)
                    return cached
                waiting = self._loading.get(prefix)
                if waiting is None:
                    self._loading[prefix] = threading.Event()
                    break
            waiting.wait()
        try:
            loaded = self._load(prefix)
        finally:
            with self._lock:
                self._loading.pop(prefix).set()
        return loaded

    def _load(self, prefix: str) -> dict[str, Listed] | _TooBig:
        entries: dict[str, Listed] = {}
        kept: dict[str, Listed] | _TooBig = entries
        try:
            for item in self._list(prefix):
                entries[item.key] = item
                if len(entries) > self._max_entries:
                    kept = _TOO_BIG
                    break
        except ListingUnavailableError:
            kept = _TOO_BIG
        with self._lock:
            self.lists += 1
            self._directories[prefix] = kept
            while len(self._directories) > self._max_directories:
                self._directories.popitem(last=False)
        return kept
