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
keep is read through a window (index_window.py) that lists only as far as the
questions have got and forgets what lies well behind them; without a way to
list from a given key, such a directory falls back to HEAD.

A key a listing does not hold is absent only if no page end of that listing
could have lost it (listing_order.PageEnds: s3rver resumes by another order
than it walks); otherwise a HEAD confirms it, for ``add`` and ``update``
alike: a HEAD costs less than the needless upload it may save, and such
keys (names that begin others, near a page end) are few. Where a tree's
page end doubts many keys of one directory (s3rver skips all of ``a-b/``
after ``a/...``), that directory is listed on its own instead.

This module holds the directories and asks the rest: index_trees.py lists
whole trees, index_listings.py is what one listing holds, index_window.py
reads big directories, index_prefetch.py lists ahead of the questions and
confirmed.py keeps what HEAD said. It answers whether a key exists and with
what ETag; records, uploads and the decision to skip are put's.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, TypeAlias, cast

from s3pput.errors import ListingUnavailableError
from s3pput.put.confirmed import Confirmed
from s3pput.put.index_limits import (
    MAX_DIRECTORIES,
    MAX_ENTRIES,
    MAX_WINDOWS,
    TREE_LIMIT,
    WINDOW_LIMIT,
)
from s3pput.put.index_listings import (
    TOO_BIG,
    UNLISTABLE,
    Answer,
    DirectoryListing,
    TooBig,
    Unsure,
    ancestors,
    parent_prefix,
)
from s3pput.put.index_prefetch import Prefetcher
from s3pput.put.index_trees import TreeListings
from s3pput.put.index_window import ListAfter, Window
from s3pput.put.listing_order import InOrder
from s3pput.transport.listed import Listed, PageEnd, Subdirectory

__all__ = ["DirectoryIndex", "Head"]

Head: TypeAlias = dict[str, Any]
"""HeadObject's answer: ETag, ContentLength, Metadata..."""
_NOT_GIVEN: Final = object()


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
        self._list_after = list_after
        self._max_directories = max_directories
        self._max_entries = max_entries
        self._window_keys = window_keys
        self._lock = threading.Lock()
        self._trees = TreeListings(
            list_tree,
            threading.Condition(self._lock),
            tree_limit=tree_limit,
            max_entries=max_entries,
        )
        self._directories: OrderedDict[str, DirectoryListing | TooBig] = OrderedDict()
        self._kept = 0
        self._loading: dict[str, threading.Event] = {}
        self._prefetcher = Prefetcher(self._learn, max_directories)
        self.lists = 0
        """How many directories were listed (for logs and benchmarks)."""
        self._windows: OrderedDict[str, Window] = OrderedDict()
        self._forgotten = (0, 0)
        """(starts, entries read) of the windows forgotten."""
        self.confirmed = Confirmed(max_directories)
        """Keys a listing lacked but a page end could have skipped: what HEAD said of them."""
        self._given: dict[str, Head | None] = {}
        """Answers another process's index gave (put's worker processes), asked of nobody."""

    def lookup(self, key: str) -> Head | None:
        """Return a HEAD-like dict for ``key`` (ETag, ContentLength), or None if absent.

        The dict has no "Metadata" when it came from a listing: callers that
        need metadata (multipart ETags) ask ``head`` themselves.
        """
        given = self._given.get(key, _NOT_GIVEN)
        if given is not _NOT_GIVEN:
            return cast("Head | None", given)
        found = self._trees.answer(key)
        doubted = found is Unsure.DOUBTFUL
        if doubted:
            known, answer = self.confirmed.get(key)
            if known:
                return answer
            if self.confirmed.list_instead(parent_prefix(key)):
                found = Unsure.UNANSWERED  # the directory's own listing, then
        if found is Unsure.UNANSWERED:
            found = self._from_directory(key)
        if found is Unsure.DOUBTFUL or (doubted and found is Unsure.UNANSWERED):
            return self._confirm(key)
        if found is Unsure.UNANSWERED:
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
    def byte_order(self) -> bool:
        """Whether every listing of this store so far came in S3's byte order.

        While so, a tree listing answers for the keys it has passed (listing_order.py).
        """
        return self._trees.byte_order

    @property
    def tree_lists(self) -> int:
        """How many prefixes were listed as whole trees."""
        return self._trees.lists

    def hint(self, keys: list[str]) -> None:
        """Start listing the tree that holds ``keys`` (a batch about to be asked about)."""
        self._trees.hint(keys)

    def prefetch(self, key: str) -> None:
        """Start learning the directory of ``key`` in the background, unless it is queued.

        Called as records are read, ahead of their uploads. A listing that
        fails here is simply not kept; the lookup then lists again and
        reports the error.
        """
        self._prefetcher.prefetch(key)

    def _learn(self, prefix: str) -> None:
        """List a directory ahead of the questions, unless a tree answers for it."""
        if self._trees.answer(prefix) is Unsure.UNANSWERED:
            self._entries(prefix)

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
            if isinstance(listing, DirectoryListing):
                found = listing.objects.get(key)
                return Unsure.DOUBTFUL if found is None and listing.ends.doubt(key) else found
            if listing is not TOO_BIG:
                return Unsure.UNANSWERED
            window = self._window(directory, create=True)
            if window is None:
                return Unsure.UNANSWERED
        answered, found = window.ask(key)
        return found if answered else Unsure.UNANSWERED

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

    def give(self, key: str, head: Head | None) -> None:
        """Take what another index said of ``key`` (None: absent) as the answer, until forgotten.

        Put's worker processes upload what the reader process's index looked
        up: one index lists the bucket, however many processes upload.
        """
        self._given[key] = head

    def forget_given(self, key: str) -> None:
        """Drop a given answer once its record is done (what is kept is what is in flight)."""
        self._given.pop(key, None)

    def remember(self, key: str, etag: str, size: int) -> None:
        """Note an object this run wrote, so a later question about it sees it."""
        self._given.pop(key, None)
        directory = parent_prefix(key)
        chain = [*ancestors(directory), directory]
        listed = Listed(key, etag, size)
        self.confirmed.forget(key)
        with self._lock:
            window = self._windows.get(directory)
            listing = self._directories.get(directory)
            if isinstance(listing, DirectoryListing):
                self._kept += key not in listing.objects
                listing.objects[key] = listed
            for outer, inner in itertools.pairwise(chain):
                above = self._directories.get(outer)
                if isinstance(above, DirectoryListing):
                    above.children.add(inner)
            self._trees.remember(chain, listed)
        if window is not None:
            window.remember(listed)

    def _entries(self, prefix: str) -> DirectoryListing | TooBig:
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

    def _fill(self, prefix: str) -> DirectoryListing | TooBig:
        """Learn ``prefix``, which the caller has marked as loading, and wake its waiters."""
        try:
            if self._known_empty(prefix):
                return self._keep(prefix, DirectoryListing())
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
                    isinstance(listing, DirectoryListing)
                    and inner not in listing.children
                    and not listing.ends.doubt(inner)
                ):
                    return True
        return False

    def _load(self, prefix: str) -> DirectoryListing | TooBig:
        directory = DirectoryListing()
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
                if not order.take(item.key) and self._trees.byte_order:
                    with self._lock:  # kept whole, so answered right: but the trees must know
                        self._trees.out_of_order(prefix, item.key)
                if len(directory.objects) > self._max_entries:
                    self._hand_over(prefix, directory, listing)
                    return self._keep(prefix, TOO_BIG)
        except ListingUnavailableError:
            return self._keep(prefix, UNLISTABLE)
        with self._lock:
            self.lists += 1
        return self._keep(prefix, directory)

    def _hand_over(
        self,
        prefix: str,
        directory: DirectoryListing,
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

    def _keep(self, prefix: str, directory: DirectoryListing | TooBig) -> DirectoryListing | TooBig:
        """Cache a directory; forget the oldest beyond the directory and key limits."""
        with self._lock:
            self._directories[prefix] = directory
            self._kept += len(directory.objects) if isinstance(directory, DirectoryListing) else 0
            while len(self._directories) > 1 and (
                len(self._directories) > self._max_directories or self._kept > self._max_entries
            ):
                _, old = self._directories.popitem(last=False)
                self._kept -= len(old.objects) if isinstance(old, DirectoryListing) else 0
        return directory
