"""Counting results as a run hands them over, with the live progress line at stat's pace.

``s3pput-stat`` reads result lines from a pipe (``tally_lines``); the
one-command ``s3pput`` gives put's results to stat in process, batch by
batch (``LiveTally.add``). Both redraw the progress line at most once per
``PROGRESS_INTERVAL``, by ``LiveTally.tick``. This module must not know
where the results come from, nor where the line is drawn: it gets lines or
records and a callable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from s3pput.errors import RecordError
from s3pput.ndjson import STDIN
from s3pput.records import Record, from_json
from s3pput.stat.summary import PROGRESS_INTERVAL, Summary, Tally

__all__ = ["LiveTally", "tally_lines"]


class LiveTally:
    """Adds batches of results to a ``Tally`` and shows progress at most every ``interval``.

    ``clock`` must be the clock the tally's ``started`` came from.
    """

    def __init__(
        self,
        tally: Tally,
        on_progress: Callable[[Summary], None] | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        interval: float = PROGRESS_INTERVAL,
    ) -> None:
        self.tally = tally
        self._on_progress = on_progress
        self._clock = clock
        self._interval = interval
        self._shown = -math.inf

    def add(self, results: Iterable[Record]) -> None:
        """Count every result; then redraw the progress if it is time to."""
        for record in results:
            self.tally.add(record)
        self.tick()

    def tick(self) -> None:
        """Redraw the progress if none was shown yet or ``interval`` has passed since."""
        if self._on_progress is None:
            return
        now = self._clock()
        if now - self._shown >= self._interval:
            self._shown = now
            self._on_progress(self.tally.summary(now))


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
    for source, number, line in lines:
        try:
            record = from_json(line)
        except RecordError as exc:
            name = None if source == STDIN else source
            tally.add_invalid(number, str(exc), source=name)
            if on_invalid is not None:
                on_invalid(source, number, str(exc))
        else:
            tally.add(record)
        live.tick()
