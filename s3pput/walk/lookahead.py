"""Run units of work ahead of the thread that takes them, in the order it will take them.

Walk reads directories with ``listdir`` and ``stat``, which release the GIL
and, on a network file system, spend most of their time waiting for the
server: N threads reading ahead wait N times at once. The output must not
depend on how many threads there are, so each unit has an ``order``, the
place of its output in the walk's, and the thread that writes the output
takes units in that order. A unit may be taken while it is still pending
(it then runs on the taking thread), running (the taker waits), or done.

Threads start the first pending unit in that order whose ``group`` (its
directory) has no unit running: some file systems serialise lookups in one
directory (FUSE without parallel directory operations, as with libfuse 2),
and there threads in one directory wait for each other while others could
be reading the next ones. Only when every group near the front is busy
(one large directory) do they share a group.

A unit's ``run`` returns the units it found (a directory's listing finds its
stat chunks, a chunk the subdirectories to list), which join the queue. The
units run ahead and not yet taken hold at most ``limit`` of ``size`` between
them, so memory stays flat however large the tree: the threads wait for the
taker rather than reading the whole tree ahead.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from typing import Final

__all__ = ["LOOKAHEAD", "Inline", "Lookahead", "Unit"]

LOOKAHEAD: Final = 1 << 16
"""Directory entries the threads may read ahead of the output (about 200 bytes each)."""

_SEARCH: Final = 64
"""Pending units a thread looks through for one whose group is idle before it takes the first."""

_PENDING: Final = 0
_RUNNING: Final = 1
_DONE: Final = 2

_Queued = tuple[tuple[int, ...], int, "Unit"]


class Unit:
    """A piece of work with a place in the output; subclasses say what ``run`` does."""

    __slots__ = ("ahead", "failure", "group", "order", "size", "state")

    def __init__(self, order: tuple[int, ...], size: int, group: Hashable = None) -> None:
        self.order = order
        """Units are taken in this order (tuples compare position by position)."""
        self.size = size
        """What it holds once it has run, counted against the look-ahead's limit."""
        self.group = group
        """Units of one group (one directory) are best not run at once; None for no group."""
        self.state = _PENDING
        """Pending, running or done: the look-ahead's to change, under its lock."""
        self.ahead = False
        """Whether a thread of the look-ahead ran it (and so counts it until taken)."""
        self.failure: BaseException | None = None
        """What ``run`` raised on a thread, raised again when the unit is taken."""

    def run(self) -> Sequence[Unit]:
        """Do the work, keep its result, and return the units it found."""
        raise NotImplementedError


class Inline:
    """No threads: each unit runs when it is taken, after ``before_run`` (which may flush)."""

    def __init__(self, before_run: Callable[[], None] | None = None) -> None:
        self._before_run = before_run

    def take(self, unit: Unit) -> None:
        """Run ``unit`` now; what it found is taken (and run) later, in its turn."""
        if self._before_run is not None:
            self._before_run()
        unit.run()

    def close(self) -> None:
        """Nothing to stop."""


class Lookahead:
    """``threads`` daemon threads running queued units in order, up to ``limit`` ahead.

    The threads are daemons and are not joined: one stuck in a ``stat`` on a
    dead server must not keep the process from exiting after Ctrl-C.
    ``before_wait`` is called (on the taking thread) before it waits for a
    unit, so a writer can pass on what it holds.
    """

    def __init__(
        self,
        threads: int,
        before_wait: Callable[[], None] | None = None,
        limit: int = LOOKAHEAD,
    ) -> None:
        self._before_wait = before_wait
        self._limit = limit
        self._changed = threading.Condition()
        self._queue: list[_Queued] = []
        self._arrivals = itertools.count()
        self._held = 0
        self._busy: Counter[Hashable] = Counter()
        self._closed = False
        for number in range(threads):
            threading.Thread(target=self._work, name=f"s3pput-walk-{number}", daemon=True).start()

    def take(self, unit: Unit) -> None:
        """Return once ``unit`` has run (running it here if no thread has started it).

        An exception that ``run`` raised on a thread is raised here instead.
        """
        with self._changed:
            mine = unit.state == _PENDING
            if mine:
                self._start(unit)
            ready = unit.state == _DONE
        if mine:
            if self._before_wait is not None:
                self._before_wait()
            found = _run(unit)
            with self._changed:
                self._finish(unit, found)
        else:
            if not ready and self._before_wait is not None:
                self._before_wait()
            with self._changed:
                self._changed.wait_for(lambda: unit.state == _DONE)
                if unit.ahead:
                    self._held -= unit.size
                self._changed.notify_all()
        if unit.failure is not None:
            raise unit.failure

    def close(self) -> None:
        """Stop the threads once their current unit is done, and drop the queue."""
        with self._changed:
            self._closed = True
            self._queue.clear()
            self._changed.notify_all()

    def _work(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(self._startable)
                if self._closed:
                    return
                unit = self._pick()
                self._start(unit)
                unit.ahead = True
                self._held += unit.size
            found = _run(unit)
            with self._changed:
                self._finish(unit, found)

    def _startable(self) -> bool:
        """Closed, or a pending unit is queued and there is room ahead."""
        if self._closed:
            return True
        queue = self._queue
        while queue and queue[0][2].state != _PENDING:  # taken inline meanwhile
            heapq.heappop(queue)
        return bool(queue) and self._held < self._limit

    def _pick(self) -> Unit:
        """The first pending unit whose group is idle, among the first few; else the first.

        Called when the first queued unit is pending (``_startable``).
        """
        queue = self._queue
        passed: list[_Queued] = []
        chosen: _Queued | None = None
        while queue and len(passed) < _SEARCH:
            queued = heapq.heappop(queue)
            unit = queued[2]
            if unit.state != _PENDING:
                continue
            if unit.group is None or not self._busy[unit.group]:
                chosen = queued
                break
            passed.append(queued)
        if chosen is None:
            chosen = passed.pop(0)
        for queued in passed:
            heapq.heappush(queue, queued)
        return chosen[2]

    def _start(self, unit: Unit) -> None:
        """Mark ``unit`` running (the caller holds the lock)."""
        unit.state = _RUNNING
        if unit.group is not None:
            self._busy[unit.group] += 1

    def _finish(self, unit: Unit, found: Sequence[Unit]) -> None:
        """Mark ``unit`` done and queue what it found (the caller holds the lock)."""
        unit.state = _DONE
        if unit.group is not None:
            self._busy[unit.group] -= 1
            if not self._busy[unit.group]:
                del self._busy[unit.group]
        if not self._closed:
            for new in found:
                heapq.heappush(self._queue, (new.order, next(self._arrivals), new))
        self._changed.notify_all()


def _run(unit: Unit) -> Sequence[Unit]:
    """Run a unit, keeping whatever it raises for the thread that takes it."""
    try:
        return unit.run()
    except BaseException as exc:  # noqa: BLE001  # handed over to the taking thread, as a future does
        unit.failure = exc
        return ()
