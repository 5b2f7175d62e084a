"""What S3 holds at a key, from one LIST per directory instead of one HEAD per key.

``--put update`` and ``--put add`` must know, for every file, whether its key
exists and what its ETag is. A HEAD per key costs a request (and botocore's
Python overhead) per file; walk emits each directory's files together, so
listing that directory once answers for up to 1,000 keys per request.
Memory stays bounded: a few recent directories are kept, and a directory too
big to keep falls back to HEAD.
"""

from __future__ import annotations

import contextlib
import queue
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
PREFETCH_THREADS: Final = 4
"""Listings run ahead of the uploads at once, so their round trips overlap."""


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
        self._prefetch_queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._prefetchers = 0
        self._last_prefetched: str | None = None
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

    def prefetch(self, key: str) -> None:
        """Start listing the directory of ``key`` in the background, unless it is known.

        Called as records are read, ahead of their uploads, so that the
        listing's round trip overlaps the uploads before it. A listing that
        fails here is simply not kept; the lookup then lists again and
        reports the error.
        """
        prefix = parent_prefix(key)
        if prefix == self._last_prefetched:
            return
        self._last_prefetched = prefix
        with self._lock:
            if prefix in self._directories or prefix in self._loading:
                return
            if len(self._loading) >= self._max_directories // 2:
                return  # far enough ahead: a later lookup lists it
            self._loading[prefix] = threading.Event()
            start_thread = self._prefetchers < PREFETCH_THREADS
            self._prefetchers += start_thread
        self._prefetch_queue.put(prefix)
        if start_thread:
            threading.Thread(target=self._prefetch_loop, name="s3pput-list", daemon=True).start()

    def _prefetch_loop(self) -> None:
        while True:
            prefix = self._prefetch_queue.get()
            # A listing that fails is not kept: the lookup lists again and reports it.
            with contextlib.suppress(Exception):
                self._fill(prefix)

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
        return self._fill(prefix)

    def _fill(self, prefix: str) -> dict[str, Listed] | _TooBig:
        """List ``prefix``, which the caller has marked as loading, and wake its waiters."""
        try:
            return self._load(prefix)
        finally:
            with self._lock:
                self._loading.pop(prefix).set()

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
