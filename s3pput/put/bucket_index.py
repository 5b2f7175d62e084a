"""What S3 holds at a key, from one LIST per directory instead of one HEAD per key.

``--put update`` and ``--put add`` must know, for every file, whether its key
exists and what its ETag is. A HEAD per key costs a request (and botocore's
Python overhead) per file; walk emits each directory's files together, so
listing that directory once answers for up to 1,000 keys per request.

Better still, a whole tree at once: the outermost directory of a key is
listed without a delimiter, up to TREE_LIMIT keys. A fresh prefix then costs
one request for the whole run, and a second run over 10,000 files ten (a
page per 1,000 keys), not one per directory. A tree too big for that falls
back to one listing per directory, where a listing's subdirectories tell
which directories are empty without asking. Memory stays bounded: trees and
directories are kept up to a total number of keys. A directory too big to
keep is read through a window (window.py) that lists only as far as the
questions have got and forgets what lies well behind them; without a way to
list from a given key, such a directory falls back to HEAD.

A key a listing does not hold is absent only if no page end of that listing
could have lost it (listing_order.PageEnds: s3rver resumes by another order
than it walks); otherwise a HEAD confirms it, for ``add`` and ``update``
alike: a HEAD costs less than the needless upload it may save, and such
keys (names that begin others, near a page end) are few. Where a tree's
page end doubts many keys of one directory (s3rver skips all of ``a-b/``
after ``a/...``), that directory is listed on its own instead.
"""

from __future__ import annotations

import contextlib
import enum
import itertools
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from s3pput import log
from s3pput.errors import ListingUnavailableError
from s3pput.put.confirmed import Confirmed
from s3pput.put.index_window import WINDOW_KEYS, ListAfter, Window
from s3pput.put.listing_order import InOrder, PageEnds
from s3pput.transport.listed import Listed, PageEnd, Subdirectory

__all__ = [
    "DirectoryIndex",
    "Listed",
    "PageEnd",
    "Subdirectory",
    "parent_prefix",
]

_log = log.get_logger("put")

Head: TypeAlias = dict[str, Any]
"""HeadObject's answer: ETag, ContentLength, Metadata..."""

LIMITS_VARIABLE: Final = "S3PPUT_LISTING_LIMITS"
"""Not a user setting: tests name smaller limits here ("max_entries=500,tree_limit=500")
so that a directory of a few thousand files counts as big, through the real commands."""


def _limits(text: str) -> dict[str, int]:
    """The limits named in LIMITS_VARIABLE's value: "name=number" pairs, comma-separated."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    limits = {name.strip(): int(value) for name, _, value in pairs}
    unknown = set(limits) - {"max_entries", "tree_limit", "window_keys"}
    if unknown:
        raise ValueError(f"{LIMITS_VARIABLE}: unknown limits {sorted(unknown)}")
    return limits


_LOWERED: Final = _limits(os.environ.get(LIMITS_VARIABLE, ""))
"""Read once, here: the defaults below are what DirectoryIndex is built with."""

MAX_DIRECTORIES: Final = 256
MAX_ENTRIES: Final = _LOWERED.get("max_entries", 200_000)
"""Keys kept in all listings together; a directory with more is read through a window."""
TREE_LIMIT: Final = _LOWERED.get("tree_limit", 20_000)
"""Keys listed under one prefix before it counts as too big to hold as one tree."""
WINDOW_LIMIT: Final = _LOWERED.get("window_keys", WINDOW_KEYS)
"""Keys each window keeps behind the last it read."""
MAX_WINDOWS: Final = 8
"""Windows kept at once (the least recently asked is forgotten), so memory stays bounded."""
PREFETCH_THREADS: Final = 4
"""Listings run ahead of the uploads at once, so their round trips overlap."""


class _TooBig:
    """Marks a directory whose listing was not kept, or could not be had."""


_TOO_BIG: Final = _TooBig()
"""Too many keys to keep: a window reads it (or HEAD, without ``list_after``)."""
_UNLISTABLE: Final = _TooBig()
"""Listing it was refused: HEAD."""
_NO_OBJECTS: Final[Mapping[str, Listed]] = MappingProxyType({})
"""What a tree says of a directory it does not hold: nothing (never written to)."""


@dataclass
class _Directory:
    """One listed directory: its objects, and which subdirectories hold anything."""

    objects: dict[str, Listed] = field(default_factory=dict)
    children: set[str] = field(default_factory=set)
    ends: PageEnds = field(default_factory=PageEnds)


class _Unsure(enum.Enum):
    """What a listing answers when it cannot say whether a key exists."""

    UNANSWERED = "no listing held here covers the key"
    DOUBTFUL = "the listing lacks the key, but a page end could have lost it: HEAD"


Answer: TypeAlias = Listed | _Unsure | None
"""What one listing says of a key: listed, absent, or not sure."""


@dataclass
class _Tree:
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


class _NotATree:
    """Marks a prefix that cannot be listed as a tree (denied, or forgotten for memory)."""


_NOT_A_TREE: Final = _NotATree()


def parent_prefix(key: str) -> str:
    """The "directory" part of a key, with its trailing slash ("" at the top)."""
    return key[: key.rfind("/") + 1]


def ancestors(directory: str) -> list[str]:
    """The directories above ``directory``, outermost first: a/b/c/ gives a/ and a/b/."""
    parts = directory.split("/")[:-2]
    return ["/".join(parts[: depth + 1]) + "/" for depth in range(len(parts))]


class DirectoryIndex:
    """Answer HEAD-like questions about keys from cached listings.

    ``list_tree(prefix)`` yields every object under ``prefix`` (a LIST
    without delimiter); ``list_directory(prefix)`` yields the objects and
    subdirectories directly under it (delimiter "/"); ``list_after(prefix,
    start_after)`` the same from a given key on, for the windows over
    directories too big to keep; ``head(key)`` is the last resort. All are
    injected, so tests and other stores can supply their own. Thread-safe:
    concurrent questions share one listing.
    """

    def __init__(  # noqa: PLR0913  # the four ways to ask, and the limits
        self,
        list_directory: Callable[[str], Iterable[Listed | Subdirectory | PageEnd]],
        head: Callable[[str], Head | None],
        *,
        list_tree: Callable[[str], Iterable[Listed | PageEnd]] | None = None,
        list_after: ListAfter | None = None,
        max_directories: int = MAX_DIRECTORIES,
        max_entries: int = MAX_ENTRIES,
        tree_limit: int = TREE_LIMIT,
        window_keys: int = WINDOW_LIMIT,
    ) -> None:
        self._list = list_directory
        self._head = head
        self._list_tree = list_tree
        self._list_after = list_after
        self._max_directories = max_directories
        self._max_entries = max_entries
        self._tree_limit = tree_limit
        self._window_keys = window_keys
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        """Notified as tree listings advance."""
        self._directories: OrderedDict[str, _Directory | _TooBig] = OrderedDict()
        self._kept = 0
        self._loading: dict[str, threading.Event] = {}
        self._trees: dict[str, _Tree | _NotATree] = {}
        self._tree_order: OrderedDict[str, _Tree] = OrderedDict()
        self._tree_keys = 0
        self._prefetch_queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._prefetchers = 0
        self._queued: set[str] = set()
        self._last_prefetched = ""
        self.lists = 0
        """How many directories were listed (for logs and benchmarks)."""
        self.tree_lists = 0
        """How many prefixes were listed as whole trees."""
        self._windows: OrderedDict[str, Window] = OrderedDict()
        self._forgotten = (0, 0)
        """(starts, entries read) of the windows forgotten."""
        self.byte_order = True
        """No listing of this store has come out of S3's byte order yet: while so,
        a tree listing answers for the keys it has passed (listing_order.py)."""
        self.confirmed = Confirmed(max_directories)
        """Keys a listing lacked but a page end could have skipped: what HEAD said of them."""

    def lookup(self, key: str) -> Head | None:
        """Return a HEAD-like dict for ``key`` (ETag, ContentLength), or None if absent.

        The dict has no "Metadata" when it came from a listing: callers that
        need metadata (multipart ETags) ask ``head`` themselves.
        """
        found = self._from_trees(key)
        doubted = found is _Unsure.DOUBTFUL
        if doubted:
            known, answer = self.confirmed.get(key)
            if known:
                return answer
            if self.confirmed.list_instead(parent_prefix(key)):
                found = _Unsure.UNANSWERED  # the directory's own listing, then
        if found is _Unsure.UNANSWERED:
            found = self._from_directory(key)
        if found is _Unsure.DOUBTFUL or (doubted and found is _Unsure.UNANSWERED):
            return self._confirm(key)
        if found is _Unsure.UNANSWERED:
            return self._head(key)
        if found is None:
            return None
        head: Head = {"ETag": f'"{found.etag}"', "ContentLength": found.size}
        if found.modified:
            head["LastModified"] = found.modified
        return head

    def _confirm(self, key: str) -> Head | None:
        """HEAD a key its listing lacks but may have skipped; keep the answer for asking again."""
        known, head = self.confirmed.get(key)
        if not known:
            head = self._head(key)
            self.confirmed.keep(key, head)
        return head

    @property
    def window_lists(self) -> int:
        """How many listings the windows started (each one request or more)."""
        with self._lock:
            return self._forgotten[0] + sum(w.starts for w in self._windows.values())

    @property
    def window_reads(self) -> int:
        """How many entries the windows read (a list request brings up to 1,000)."""
        with self._lock:
            return self._forgotten[1] + sum(w.read for w in self._windows.values())

    def _from_directory(self, key: str) -> Answer:
        """What the listing of the key's own directory says of ``key``.

        A directory too big to keep is asked through its window, if there
        is a way to list from a key on; otherwise it is not answered here.
        """
        directory = parent_prefix(key)
        window = self._window(directory, create=False)
        if window is None:
            listing = self._entries(directory)
            if isinstance(listing, _Directory):
                found = listing.objects.get(key)
                return _Unsure.DOUBTFUL if found is None and listing.ends.doubt(key) else found
            if listing is not _TOO_BIG:
                return _Unsure.UNANSWERED
            window = self._window(directory, create=True)
            if window is None:
                return _Unsure.UNANSWERED
        answered, found = window.ask(key)
        return found if answered else _Unsure.UNANSWERED

    def _window(self, directory: str, *, create: bool) -> Window | None:
        """The window kept for ``directory``; a new one if ``create`` and windows can list."""
        with self._lock:
            window = self._windows.get(directory)
            if window is not None:
                self._windows.move_to_end(directory)
                return window
            if not create or self._list_after is None:
                return None
            window = Window(directory, self._list_after, keep=self._window_keys)
            self._windows[directory] = window
            while len(self._windows) > MAX_WINDOWS:
                _, old = self._windows.popitem(last=False)
                starts, read = self._forgotten
                self._forgotten = (starts + old.starts, read + old.read)
            return window

    def prefetch(self, key: str) -> None:
        """Start learning the directory of ``key`` in the background, unless it is queued.

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
            if prefix in self._queued or len(self._queued) >= self._max_directories:
                return
            self._queued.add(prefix)
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
                if self._from_trees(prefix) is _Unsure.UNANSWERED:
                    self._entries(prefix)
            with self._lock:
                self._queued.discard(prefix)

    def remember(self, key: str, etag: str, size: int) -> None:
        """Note an object this run wrote, so a later question about it sees it."""
        directory = parent_prefix(key)
        chain = [*ancestors(directory), directory]
        listed = Listed(key, etag, size)
        self.confirmed.forget(key)
        with self._lock:
            window = self._windows.get(directory)
            listing = self._directories.get(directory)
            if isinstance(listing, _Directory):
                self._kept += key not in listing.objects
                listing.objects[key] = listed
            for outer, inner in itertools.pairwise(chain):
                above = self._directories.get(outer)
                if isinstance(above, _Directory):
                    above.children.add(inner)
            for prefix in chain:
                tree = self._trees.get(prefix)
                if isinstance(tree, _Tree):
                    tree.directories.setdefault(directory, {})[key] = listed
        if window is not None:
            window.remember(listed)

    def hint(self, keys: list[str]) -> None:
        """Start listing the tree that holds ``keys`` (a batch about to be asked about).

        The deepest directory common to a batch is the best guess at the root
        of what a run uploads: listing further out may cost many pages of
        other people's keys, and further in misses the batch's siblings. No
        tree is started for the bucket's top or where a tree already holds it.
        """
        if self._list_tree is None or not keys:
            return
        common = parent_prefix(os.path.commonprefix(keys))  # noqa: RUF071  # then cut at a slash
        if not common:
            return
        with self._lock:
            for prefix in [*ancestors(common), common]:
                tree = self._trees.get(prefix)
                if isinstance(tree, _Tree) and tree.error is None and not tree.too_big:
                    return
        self._tree(common)

    def _from_trees(self, key: str) -> Answer:
        """What a tree listing says of ``key``.

        The trees already started for the key's prefixes are asked first,
        outermost first; failing those, the key's own directory is listed as
        a tree. A question waits only until the listing has passed its key,
        and a tree too big to hold still answers for the keys it listed.
        """
        if self._list_tree is None:
            return _Unsure.UNANSWERED
        directory = parent_prefix(key)
        with self._lock:
            started = [
                tree
                for prefix in [*ancestors(directory), directory]
                if isinstance(tree := self._trees.get(prefix), _Tree) and tree.error is None
            ]
        for tree in started:
            found = self._ask(tree, key)
            if found is not _Unsure.UNANSWERED:
                return found
        own = self._tree(directory)
        if isinstance(own, _NotATree) or own in started:
            return _Unsure.UNANSWERED
        return self._ask(own, key)

    def _ask(self, tree: _Tree, key: str) -> Answer:
        """Wait until ``tree`` has passed ``key``; then what it says, if it can say."""
        with self._changed:
            self._changed.wait_for(lambda: tree.settled(key))
            if tree.error is not None:
                raise tree.error
            if not tree.answers(key):
                return _Unsure.UNANSWERED
            found = tree.found(key)
            return _Unsure.DOUBTFUL if found is None and tree.ends.doubt(key) else found

    def _tree(self, prefix: str) -> _Tree | _NotATree:
        """The tree of ``prefix``, its listing started (on its own thread) if it is new."""
        with self._lock:
            tree = self._trees.get(prefix)
            if tree is not None and not (isinstance(tree, _Tree) and tree.error is not None):
                return tree
            tree = _Tree()
            tree.order.ordered = self.byte_order
            self._trees[prefix] = tree
        threading.Thread(
            target=self._list_into, args=(prefix, tree), name="s3pput-tree", daemon=True
        ).start()
        return tree

    def _list_into(self, prefix: str, tree: _Tree) -> None:
        """Listing thread: fill ``tree`` page by page and wake whoever waits on it."""
        assert self._list_tree is not None  # noqa: S101  # checked by _from_trees
        try:
            for item in self._list_tree(prefix):
                with self._changed:
                    if isinstance(item, PageEnd):
                        tree.ends.add(item.after)
                        continue
                    if tree.size >= self._tree_limit:
                        tree.too_big = True
                        break
                    if not tree.take(item):
                        self._out_of_order(prefix, item.key)
                    self._changed.notify_all()
            else:
                with self._changed:
                    tree.complete = True
        except ListingUnavailableError:
            with self._changed:
                self._trees[prefix] = _NOT_A_TREE
                tree.too_big = True
        except Exception as exc:  # noqa: BLE001  # handed to whoever asks, who reports it
            with self._changed:
                tree.error = exc
        with self._changed:
            self.tree_lists += 1
            self._changed.notify_all()
            if tree.error is None:
                self._tree_order[prefix] = tree
                self._tree_keys += tree.size
                while len(self._tree_order) > 1 and self._tree_keys > self._max_entries:
                    old_prefix, old = self._tree_order.popitem(last=False)
                    self._tree_keys -= old.size
                    self._trees[old_prefix] = _NOT_A_TREE  # forgotten: directories list it

    def _out_of_order(self, prefix: str, key: str) -> None:
        """A listing came out of byte order: no listing of this store answers by progress now.

        Called under the lock. Questions then wait for complete listings
        (within the tree limit), or go to the key's directory, listed whole.
        """
        if not self.byte_order:
            return
        self.byte_order = False
        for tree in self._trees.values():
            if isinstance(tree, _Tree):
                tree.order.ordered = False
        _log.info(
            "the store lists keys out of S3's byte order: a key is taken as absent "
            "only from a complete listing",
            prefix=prefix,
            key=key,
        )

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
            if self._known_empty(prefix):
                return self._keep(prefix, _Directory())
            return self._load(prefix)
        finally:
            with self._lock:
                self._loading.pop(prefix).set()

    def _known_empty(self, directory: str) -> bool:
        """Whether a kept listing of a directory above names no subdirectory leading here.

        Not if a page end of that listing could have lost the subdirectory:
        then the directory is listed itself.
        """
        chain = [*ancestors(directory), directory]
        with self._lock:
            for outer, inner in itertools.pairwise(chain):
                listing = self._directories.get(outer)
                if (
                    isinstance(listing, _Directory)
                    and inner not in listing.children
                    and not listing.ends.doubt(inner)
                ):
                    return True
        return False

    def _load(self, prefix: str) -> _Directory | _TooBig:
        directory = _Directory()
        order = InOrder()
        try:
            listing = iter(self._list(prefix))
            for item in listing:
                if isinstance(item, PageEnd):
                    directory.ends.add(item.after)
                    continue
                if isinstance(item, Subdirectory):
                    directory.children.add(item.prefix)
                    continue
                directory.objects[item.key] = item
                if not order.take(item.key) and self.byte_order:
                    with self._lock:  # kept whole, so answered right: but the trees must know
                        self._out_of_order(prefix, item.key)
                if len(directory.objects) > self._max_entries:
                    self._hand_over(prefix, directory, listing)
                    return self._keep(prefix, _TOO_BIG)
        except ListingUnavailableError:
            return self._keep(prefix, _UNLISTABLE)
        with self._lock:
            self.lists += 1
        return self._keep(prefix, directory)

    def _hand_over(
        self,
        prefix: str,
        directory: _Directory,
        listing: Iterator[Listed | Subdirectory | PageEnd],
    ) -> None:
        """Give a listing too big to keep, as far as it has got, to a window that goes on with it.

        Its keys so far are the ones being asked about (walk asks from the
        top of a directory down), and the window reads on from where the
        listing stopped, so nothing is listed twice. The window forgets
        them as the questions move past.
        """
        window = self._window(prefix, create=True)
        if window is not None:
            window.adopt(
                list(directory.objects.values()), len(directory.children), listing, directory.ends
            )

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
