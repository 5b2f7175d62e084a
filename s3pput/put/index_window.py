"""A sliding window over a directory too big to keep: its listing read in step with the questions.

A directory of millions of keys cannot be held whole (DirectoryIndex keeps a
bounded number of keys), and a HEAD per key is what listing was meant to save.
But walk emits a directory's files in sorted order (Python's ``str`` order,
which is S3's UTF-8 binary key order), and put asks about them in nearly that
order: its driver thread asks in input order, and worker threads ask again
about keys a little behind. So one listing, read only as far as the latest
question and forgotten well behind it, answers them all: N unchanged keys cost
about N/1,000 list requests, and memory holds ``keep`` keys and a page.

No question may cost much listing. A key behind the window (forgotten) is left
to HEAD. A key far ahead (a filtered input that asks about every 5,000th key)
restarts the listing just below it (StartAfter) once REACH keys were read
without getting there; what was read before stays, as a span of its own
within the same bound on keys, for the workers that ask about it again. And a
window whose listing costs more requests than the HEADs it saved (keys asked
in no order) gives up: every key is HEADed, as before there were windows.

All of this relies on the listing's order, which not every store keeps
(listing_order.py): a key counts as passed only where every store's walk
agrees, a subdirectory does not move the listing on (SeaweedFS lists
``d/a/`` where ``d/a`` sorts, before ``d/a-b``), and a window whose listing
comes out of byte order gives up. A key its listing lacks is answered
absent only if no page end of the listing could have lost it (a store that
resumes by another order than it walks); otherwise it is left to HEAD.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Final, TypeAlias

from s3pput.errors import ListingUnavailableError
from s3pput.put.listing_order import InOrder, PageEnds, listed_before
from s3pput.transport.listed import Listed, PageEnd, Subdirectory
from s3pput.units import LIST_PAGE_KEYS, MAX_KEY_BYTES

__all__ = ["ListAfter", "Window", "just_below"]

ListAfter: TypeAlias = Callable[[str, str], Iterable[Listed | Subdirectory | PageEnd]]
"""``list_after(prefix, start_after)``: what is directly under ``prefix`` (delimiter "/")
past ``start_after`` ("" for all), in key order, fetched page by page as it is iterated."""

WINDOW_KEYS: Final = 10_000
"""Keys a window keeps behind the last one it read: far more than workers reorder."""
REACH: Final = 1_000
"""Keys read for one question before the listing restarts just below its key."""
GRACE: Final = 16
"""Requests a window may spend beyond the HEADs it saved before it gives up."""
MAX_SPANS: Final = 64
"""Stretches of the listing kept apart after restarts, so workers asking again about
the keys of earlier ones (a sparse input) are still answered."""
_SURROGATES: Final = range(0xD800, 0xE000)
_SLASH: Final = ord("/")
_TOP: Final = "\U0010ffff"
"""The greatest code point: a string ending in it sorts just below the next one up."""


def just_below(key: str) -> str:
    """A StartAfter for listing from ``key`` on: below it, with next to nothing between.

    ``key[:-1]`` would do, but between "d/f1" and "d/f10" lie "d/f1.txt",
    "d/f1-a" and any number of others. Lowering the last character by one
    and appending the greatest code point leaves between only keys that go
    on with more of that code point, which no one writes. Below "0" is "/",
    which would name a subdirectory (stores that walk directories read it
    so): "." is taken instead, leaving between only that subdirectory, which
    holds none of this directory's objects. A key at S3's length limit gets
    ``key[:-1]``.
    """
    below = ord(key[-1]) - 1
    if below < 0:
        return key[:-1]
    if below in _SURROGATES:  # not text: skip below them
        below = _SURROGATES.start - 1
    if below == _SLASH:
        below -= 1
    start = key[:-1] + chr(below) + _TOP
    return start if len(start.encode("utf-8", "surrogatepass")) <= MAX_KEY_BYTES else key[:-1]


class Window:
    """What one directory's listing says near the keys being asked about.

    The window holds spans of the listing, each from a start (exclusive) to
    where it has been read (inclusive); the last is the one being read, and
    past its start everything is known once the listing is complete. Every
    object key in a span is in ``objects`` if it exists. One question at a
    time reads the listing on, without the lock; the others wait on the
    condition, unless the window already answers them. Thread-safe.
    """

    def __init__(
        self,
        prefix: str,
        list_after: ListAfter,
        *,
        keep: int = WINDOW_KEYS,
        reach: int = REACH,
    ) -> None:
        self._list_after = list_after
        self._prefix = prefix
        self._keep = max(keep, 2 * reach)
        """At least twice ``reach``, so reading on for one key never pushes out those
        just asked before it (a sparse input's workers ask about them again)."""
        self._reach = reach
        self._changed = threading.Condition()
        self._keys: list[str] = []
        """The keys of ``objects``, in order: the oldest are forgotten first."""
        self._objects: dict[str, Listed] = {}
        self._lows = [prefix]
        self._highs = [prefix]
        """The spans, in order and apart: (low, high] each; the last is being read."""
        self._complete = False
        """The last span reaches the end of the directory."""
        self._cursor: Iterator[Listed | Subdirectory | PageEnd] | None = None
        self._order = InOrder()
        """Whether the cursor's objects came in byte order, each past the one before."""
        self._ends = PageEnds()
        """Where the listings' pages stopped: a key lacking near one may have been lost."""
        self._busy = False
        """A question is reading the listing on."""
        self._failures = 0
        self._error: BaseException | None = None
        self.given_up = False
        """Listing costs more than it saves here (or is denied): every key is HEADed."""
        self.starts = 0
        """Listings started (each at least one request)."""
        self.read = 0
        """Entries read from the listings."""
        self.answered = 0
        """Questions answered without a HEAD."""

    def adopt(
        self,
        objects: list[Listed],
        others: int,
        cursor: Iterator[Listed | Subdirectory | PageEnd],
        ends: PageEnds,
    ) -> None:
        """Start from a listing already read from the top as far as ``objects`` (in key order).

        ``others`` is how many subdirectories it also read, ``ends`` where its
        pages stopped; ``cursor`` goes on where it stopped. Only for a window
        no question has used yet.
        A listing that came out of byte order is not adopted: the window gives up.
        """
        with self._changed:
            self.starts += 1
            self.read += len(objects) + others
            keys = [listed.key for listed in objects]
            if any(low >= high for low, high in itertools.pairwise(keys)):
                self.given_up = True
                return
            self._keys = keys
            self._objects = {listed.key: listed for listed in objects}
            if self._keys:
                self._highs[-1] = self._keys[-1]
            self._cursor = cursor
            self._order = InOrder(self._highs[-1])
            self._ends = ends

    def ask(self, key: str) -> tuple[bool, Listed | None]:
        """(answered, what the listing says of ``key``); unanswered means HEAD it.

        Waits while another question reads on; if that listing fails, the
        error is raised here too (the next question lists again).
        """
        with self._changed:
            failures = self._failures
            while True:
                if self._covers(key):
                    return self._known(key)
                if self.given_up or key <= self._lows[-1]:  # forgotten, or never listed
                    return False, None
                if self._failures != failures and self._error is not None:
                    raise self._error
                if not self._busy:
                    break
                self._changed.wait()
            self._busy = True
        try:
            return self._read_to(key)
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()

    def remember(self, listed: Listed) -> None:
        """Note an object this run wrote, if it falls where the window knows every key."""
        with self._changed:
            if not self._covers(listed.key):
                return
            if listed.key not in self._objects:
                bisect.insort(self._keys, listed.key)
            self._objects[listed.key] = listed
            self._trim()

    def __len__(self) -> int:
        """Keys held now."""
        with self._changed:
            return len(self._keys)

    def _covers(self, key: str) -> bool:
        """Whether a span holds ``key`` if it exists: listed past its start, and up to it.

        Past and up to as every store's walk has it (listing_order.py), not
        merely in byte order; past the last span's end once it is complete.
        """
        span = bisect.bisect_left(self._highs, key)
        last = len(self._highs) - 1
        if span >= last and self._complete:
            return self._after(self._lows[last], key)
        if span > last:
            return False
        return self._after(self._lows[span], key) and listed_before(key, self._highs[span])

    def _after(self, low: str, key: str) -> bool:
        """Whether a listing started after ``low`` lists ``key`` (from the top: every key)."""
        return low == self._prefix or (low != key and listed_before(low, key))

    def _read_to(self, key: str) -> tuple[bool, Listed | None]:
        """Read the listing until it passes ``key``: the caller holds ``_busy``.

        A listing starts where the window's knowledge ends: at the top of
        the directory for a new window (so keys a little below the first one
        asked are answered too), where it stopped after a failure. After
        ``reach`` entries without getting there, the listing restarts just
        below the key, once, unless the window has cost more than it saved
        (then it gives up); a key still not reached goes to HEAD.
        """
        try:
            if self._cursor is None:
                with self._changed:
                    if self._complete:  # read to the end, and still not known
                        return False, None
                    resume = self._highs[-1]
                self._start(resume)
            read = 0
            jumped = False
            while True:
                assert self._cursor is not None  # noqa: S101  # set by _start
                item = next(self._cursor, None)
                with self._changed:
                    self._take(item)
                    answer = self._answer(key, ended=item is None)
                if answer is not None:
                    return answer
                read += 1
                if read < self._reach:
                    continue
                if jumped:  # keys crowd just below it: not worth another restart
                    return False, None
                if self._costly():
                    with self._changed:
                        self.given_up = True
                    return False, None
                self._start(just_below(key))
                read, jumped = 0, True
        except ListingUnavailableError:
            with self._changed:
                self.given_up = True
            return False, None
        except Exception as exc:
            with self._changed:  # the waiters raise it too; the next question resumes
                self._cursor = None
                self._failures += 1
                self._error = exc
            raise

    def _answer(self, key: str, *, ended: bool) -> tuple[bool, Listed | None] | None:
        """What reading on has settled for ``key``, under the lock: None to read further.

        Unanswered (HEAD) once the listing ended, or gave up, without covering it.
        """
        if self._covers(key):
            return self._known(key)
        if ended or self.given_up:
            return False, None
        return None

    def _known(self, key: str) -> tuple[bool, Listed | None]:
        """What the window says of a key it covers, under the lock: unanswered if in doubt."""
        found = self._objects.get(key)
        if found is None and self._ends.doubt(key):
            return False, None
        self.answered += 1
        return True, found

    def _start(self, start_after: str) -> None:
        """Start a listing after ``start_after``: a new span if that is past the last one."""
        cursor = iter(
            self._list_after(self._prefix, "" if start_after == self._prefix else start_after)
        )
        with self._changed:
            if start_after > self._highs[-1]:
                if self._lows[-1] == self._highs[-1]:  # an empty span: replace it
                    del self._lows[-1], self._highs[-1]
                self._lows.append(start_after)
                self._highs.append(start_after)
                if len(self._lows) > MAX_SPANS:
                    self._forget(self._highs[0])
            self._cursor = cursor
            self._order = InOrder(start_after)
            self.starts += 1

    def _take(self, item: Listed | Subdirectory | PageEnd | None) -> None:
        """One entry of the listing (None: its end), under the lock.

        Only objects move the listing on: a page lists its subdirectories
        after its objects, and SeaweedFS puts ``d/a/`` on the page of ``d/a``.
        An object not past the one before it (or the listing's start) means
        the store does not list in byte order: the window gives up. One
        already held (a listing restarted below the span's end) is skipped.
        """
        if item is None:
            self._complete = True
            self._cursor = None
            return
        if isinstance(item, PageEnd):
            self._ends.add(item.after)
            return
        self.read += 1
        if not isinstance(item, Listed):
            return
        if not self._order.take(item.key):
            self.given_up = True
            self._cursor = None
            return
        if item.key > self._highs[-1]:
            self._keys.append(item.key)
            self._objects[item.key] = item
            self._trim()
            self._highs[-1] = item.key

    def _trim(self) -> None:
        """Forget the oldest keys beyond ``keep`` (a quarter more first, so it is not per key)."""
        if len(self._keys) > self._keep + self._keep // 4:
            self._forget(self._keys[len(self._keys) - self._keep - 1])

    def _forget(self, floor: str) -> None:
        """Forget every key up to ``floor``, and the spans that then hold nothing."""
        cut = bisect.bisect_right(self._keys, floor)
        for old in self._keys[:cut]:
            del self._objects[old]
        del self._keys[:cut]
        self._ends.forget(floor)
        while len(self._lows) > 1 and self._highs[0] <= floor:
            del self._lows[0], self._highs[0]
        self._lows[0] = max(self._lows[0], floor)

    def _costly(self) -> bool:
        """Whether the requests spent exceed the HEADs saved, by more than the grace."""
        return self.starts + self.read // LIST_PAGE_KEYS > self.answered + GRACE
