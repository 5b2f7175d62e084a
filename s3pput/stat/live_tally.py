"""Counting results as a run hands them over, with the live progress line at stat's pace.

``s3pput-stat`` reads result lines from a pipe (``tally_lines``); the
one-command ``s3pput`` gives put's results to stat in process, batch by
batch (``LiveTally.add``). Both redraw the progress line at most once per
``PROGRESS_INTERVAL``, by ``LiveTally.tick``, and inside ``redrawing()``
also while no result comes: another stage's log line may have wiped the
line, and a run waiting on a large file must not look frozen. This module
must not know where the results come from, nor where the line is drawn: it
gets lines or records and a callable.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from s3pput.errors import RecordError
from s3pput.ndjson import STDIN
from s3pput.records import Record, from_json
from s3pput.stat.summary import PROGRESS_INTERVAL, Summary, Tally

__all__ = ["Expected", "LiveTally", "count_lines", "tally_lines"]


class Expected(Protocol):
    """Files and bytes a run will have, counted while it runs (the one command counts ahead)."""

    @property
    def files(self) -> int:
        """Files counted so far."""
        ...

    @property
    def bytes(self) -> int:
        """Their bytes."""
        ...

    @property
    def done(self) -> bool:
        """Whether the count is complete (else it is a running count)."""
        ...


class LiveTally:
    """Adds results to a ``Tally`` and shows progress at most every ``interval``.

    ``clock`` must be the clock the tally's ``started`` came from.
    ``expected`` gives the progress line totals when no total record did
    (``s3pput-walk --count`` writes one): they are shown, never summed up.
    Counting and drawing hold one lock, so ``redrawing``'s thread never
    reads a tally in the middle of an update.
    """

    def __init__(  # each collaborator is injected so tests can swap it
        self,
        tally: Tally,
        on_progress: Callable[[Summary], None] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROGRESS_INTERVAL,
        expected: Expected | None = None,
    ) -> None:
        self.tally = tally
        self._on_progress = on_progress
        self._clock = clock
        self._interval = interval
        self._expected = expected
        self._shown = -math.inf
        self._lock = threading.Lock()

    def add(self, results: Iterable[Record]) -> None:
        """Count every result; then redraw the progress if it is time to."""
        with self._lock:
            for record in results:
                self.tally.add(record)
        self.tick()

    def add_invalid(self, line: int, error: str, source: str | None) -> None:
        """Count a line that is not a record (see ``Tally.add_invalid``)."""
        with self._lock:
            self.tally.add_invalid(line, error, source=source)

    def tick(self, *, force: bool = False) -> None:
        """Redraw the progress if none was shown yet, ``interval`` has passed, or ``force``."""
        if self._on_progress is None:
            return
        with self._lock:
            now = self._clock()
            if force or now - self._shown >= self._interval:
                self._shown = now
                self._on_progress(self._progress(now))

    def _progress(self, now: float) -> Summary:
        summary = self.tally.summary(now)
        expected = self._expected
        if expected is None or summary.total_files is not None:
            return summary
        files, size, done = expected.files, expected.bytes, expected.done
        if not files and not done:
            return summary
        return dataclasses.replace(summary, total_files=files, total_bytes=size, counting=not done)

    @contextlib.contextmanager
    def redrawing(self) -> Iterator[None]:
        """Inside the block, redraw the line every ``interval`` even when no result comes.

        The thread has stopped, and draws no more, when the block ends.
        """
        if self._on_progress is None:
            yield
            return
        stop = threading.Event()

        def redraw() -> None:
            while not stop.wait(self._interval):
                self.tick(force=True)

        thread = threading.Thread(target=redraw, name="s3pput-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def tally_lines(  # noqa: PLR0913  # each collaborator is injected so tests can swap it
    lines: Iterable[tuple[str, int, bytes]],
    tally: Tally,
    *,
    clock: Callable[[], float],
    on_progress: Callable[[Summary], None] | None = None,
    on_invalid: Callable[[str, int, str], None] | None = None,
    interval: float = PROGRESS_INTERVAL,
) -> None:
    """Parse and count ``(source, line_number, line)`` triples as ``ndjson.read_lines`` yields them.

    ``on_progress`` gets a summary on the first line and then at most once per
    ``interval`` seconds of ``clock``. ``on_invalid(source, line, error)`` hears
    about each line that is not a record, after it is counted.
    The caller owns ``tally``, so what was counted survives a Ctrl-C.
    """
    live = LiveTally(tally, on_progress, clock=clock, interval=interval)
    count_lines(lines, live, on_invalid=on_invalid)


def count_lines(
    lines: Iterable[tuple[str, int, bytes]],
    live: LiveTally,
    *,
    on_invalid: Callable[[str, int, str], None] | None = None,
) -> None:
    """``tally_lines`` into a ``LiveTally`` the caller keeps (to redraw while the lines wait)."""
    for source, number, line in lines:
        try:
            record = from_json(line)
        except RecordError as exc:
            name = None if source == STDIN else source
            live.add_invalid(number, str(exc), name)
            if on_invalid is not None:
                on_invalid(source, number, str(exc))
            live.tick()
        else:
            live.add((record,))
