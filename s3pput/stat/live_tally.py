"""Counting results as a run hands them over, with the live progress line at stat's pace.

The one-command ``s3pput`` gives put's results to stat in process, batch by
batch, instead of through a pipe that ``tally_lines`` reads. Both redraw the
progress line at most once per ``PROGRESS_INTERVAL``. This module must not
know where the results come from, nor where the line is drawn: it gets
records and a callable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from s3pput.records import Record
from s3pput.stat.summary import PROGRESS_INTERVAL, Summary, Tally

__all__ = ["LiveTally"]


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
        if self._on_progress is None:
            return
        now = self._clock()
        if now - self._shown >= self._interval:
            self._shown = now
            self._on_progress(self.tally.summary(now))
