"""What S3 holds at a key, from one LIST per directory instead of one HEAD per key.

``--put update`` and ``--put add`` must know, for every file, whether its key
exists and what its ETag is. A HEAD per key costs a request (and botocore's
Python overhead) per file; walk emits each directory's files together, so
listing that directory once answers for up to 1,000 keys per request.

A directory that an ancestor shows to be empty needs no request at all: a
listing knows its subdirectories, and one probe ("is anything under this
prefix?") answers for a whole new tree, so a first upload into a fresh prefix
costs one request, not one per directory. Memory stays bounded: recent
directories are kept up to a total number of keys, and a directory too big to
keep falls back to HEAD.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

__all__ = [
    "DirectoryIndex",
    "Listed",
    "ListingUnavailableError",
    "Subdirectory",
    "parent_prefix",
]

Head: TypeAlias = dict[str, Any]
"""HeadObject's answer: ETag, ContentLength, Metadata..."""

MAX_DIRECTORIES: Final = 256
MAX_ENTRIES: Final = 200_000
"""Keys kept in all listings together; a directory with more is HEADed key by key."""
PREFETCH_THREADS: Final = 4
"""Listings run ahead of the uploads at once, so their round trips overlap."""


@dataclass(frozen=True)
class Listed:
    """One object as a listing shows it."""

    key: str
    etag: str
    size: int


@dataclass(frozen=True)
class Subdirectory:
    """A listing's CommonPrefix: a directory with at least one object somewhere below it."""

    prefix: str


class ListingUnavailableError(Exception):
    """The store will not list this prefix (no s3:ListBucket, say): use HEAD instead."""


class _TooBig:
    """Marks a directory whose listing was not kept, or could not be had."""


_TOO_BIG: Final = _TooBig()


@dataclass
class _Directory:
    """One listed directory: its objects, and which subdirectories hold anything."""

    objects: dict[str, Listed] = field(default_factory=dict)
    children: set[str] = field(default_factory=set)


def parent_prefix(key: str) -> str:
    """The "directory" part of a key, with its trailing slash ("" at the top)."""
    return key[: key.rfind("/") + 1]


def ancestors(directory: str) -> list[str]:
    """The directories above ``directory``, outermost first: a/b/c/ gives a/ and a/b/."""
    parts = directory.split("/")[:-2]
    return ["/".join(parts[: depth + 1]) + "/" for depth in range(len(parts))]


class DirectoryIndex:
    """Answer HEAD-like questions about keys from cached directory listings.

    ``list_directory(prefix)`` yields the objects and subdirectories directly
    under ``prefix`` (a LIST with delimiter "/"); ``probe(prefix)`` tells
    whether anything at all is under a prefix; ``head(key)`` is the fallback.
    All are injected, so tests and other stores can supply their own.
    Thread-safe: concurrent questions about one directory share one listing.
    """

    def __init__(
        self,
        list_directory: Callable[[str], Iterable[Listed | Subdirectory]],
        head: Callable[[str], Head | None],
        *,
        probe: Callable[[str], bool] | None = None,
        max_directories: int = MAX_DIRECTORIES,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self._list = list_directory
        self._head = head
        self._probe = probe
        self._max_directories = max_directories
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._directories: OrderedDict[str, _Directory | _TooBig] = OrderedDict()
        self._kept = 0
        self._loading: dict[str, threading.Event] = {}
        self._probes: dict[str, bool | threading.Event] = {}
        self._written: set[str] = set()
        """Directories this run wrote to: what was probed empty may not be any more."""
        self._prefetch_queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._prefetchers = 0
        self._last_prefetched: str | None = None
        self.lists = 0
        """How many directories were listed (for logs and benchmarks)."""
        self.probes = 0
        """How many prefixes were probed for anything below them."""

    def lookup(self, key: str) -> Head | None:
        """Return a HEAD-like dict for ``key`` (ETag, ContentLength), or None if absent.

        The dict has no "Metadata" when it came from a listing: callers that
        need metadata (multipart ETags) ask ``head`` themselves.
        """
        directory = self._entries(parent_prefix(key))
        if isinstance(directory, _TooBig):
            return self._head(key)
        found = directory.objects.get(key)
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
            if len(self._loading) >= self._max_directories // 4:
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
        directory = parent_prefix(key)
        chain = [*ancestors(directory), directory]
        with self._lock:
            listing = self._directories.get(directory)
            if isinstance(listing, _Directory):
                self._kept += key not in listing.objects
                listing.objects[key] = Listed(key, etag, size)
            self._written.add(directory)
            for outer, inner in itertools.pairwise(chain):
                above = self._directories.get(outer)
                if isinstance(above, _Directory):
                    above.children.add(inner)

    def _entries(self, prefix: str) -> _Directory | _TooBig:
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

    def _fill(self, prefix: str) -> _Directory | _TooBig:
        """Learn ``prefix``, which the caller has marked as loading, and wake its waiters."""
        try:
            if prefix not in self._written and self._known_empty(prefix):
                return self._keep(prefix, _Directory())
            return self._load(prefix)
        finally:
            with self._lock:
                self._loading.pop(prefix).set()

    def _known_empty(self, directory: str) -> bool:
        """Whether what is known of the directories above shows nothing under this one.

        Outermost first: a kept listing of an ancestor names the subdirectories
        that hold anything; an ancestor not kept is probed, once per run.
        """
        chain = [*ancestors(directory), directory]
        for outer, inner in itertools.pairwise(chain):
            with self._lock:
                listing = self._directories.get(outer)
            if isinstance(listing, _Directory):
                if inner not in listing.children:
                    return True
            elif not self._anything_under(outer):
                return True
        return False

    def _anything_under(self, prefix: str) -> bool:
        """Probe ``prefix`` once per run; True when unsure (no probe, or it failed)."""
        if self._probe is None:
            return True
        with self._lock:
            state = self._probes.get(prefix)
            if state is None:
                event = threading.Event()
                self._probes[prefix] = event
        if isinstance(state, threading.Event):
            state.wait()
            with self._lock:
                return self._probes.get(prefix) is not False
        if state is not None:
            return state
        found = True
        try:
            found = self._probe(prefix)
        except Exception:  # noqa: BLE001, S110  # unsure: the listing itself will say what is wrong
            pass
        finally:
            with self._lock:
                self.probes += 1
                self._probes[prefix] = found
            event.set()
        return found

    def _load(self, prefix: str) -> _Directory | _TooBig:
        directory = _Directory()
        try:
            for item in self._list(prefix):
                if isinstance(item, Subdirectory):
                    directory.children.add(item.prefix)
                    continue
                directory.objects[item.key] = item
                if len(directory.objects) > self._max_entries:
                    return self._keep(prefix, _TOO_BIG)
        except ListingUnavailableError:
            return self._keep(prefix, _TOO_BIG)
        with self._lock:
            self.lists += 1
        return self._keep(prefix, directory)

    def _keep(self, prefix: str, directory: _Directory | _TooBig) -> _Directory | _TooBig:
        """Cache a directory; forget the oldest beyond the directory and key limits."""
        with self._lock:
            self._directories[prefix] = directory
            self._kept += len(directory.objects) if isinstance(directory, _Directory) else 0
            while len(self._directories) > 1 and (
                len(self._directories) > self._max_directories or self._kept > self._max_entries
            ):
                _, old = self._directories.popitem(last=False)
                self._kept -= len(old.objects) if isinstance(old, _Directory) else 0
        return directory
