"""The one-command run's live count: every result counted, the progress line at stat's pace."""

from __future__ import annotations

from s3pput.records import Record
from s3pput.stat.live_tally import LiveTally
from s3pput.stat.summary import PROGRESS_INTERVAL, Summary, Tally


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """The time the test set."""
        return self.now


def uploaded(key: str, size: int) -> Record:
    """A result as put writes it for an uploaded file."""
    return Record(key=key, status="uploaded", bytes=size)


class TestLiveTally:
    def test_every_result_is_counted(self) -> None:
        """Batches add up in the tally, whatever the progress line does."""
        clock = FakeClock()
        live = LiveTally(Tally(started=clock()), None, clock=clock)
        live.add([uploaded("a", 1), uploaded("b", 2)])
        live.add([Record(key="c", status="failed", error="boom")])
        summary = live.tally.summary(clock())
        assert (summary.uploaded, summary.failed, summary.bytes) == (2, 1, 3)

    def test_progress_is_shown_at_most_once_per_interval(self) -> None:
        """The first batch shows it; batches closer than PROGRESS_INTERVAL to the last do not."""
        clock = FakeClock()
        shown: list[Summary] = []
        live = LiveTally(Tally(started=clock()), shown.append, clock=clock)
        live.add([uploaded("a", 1)])
        clock.now += PROGRESS_INTERVAL / 2
        live.add([uploaded("b", 1)])
        clock.now += PROGRESS_INTERVAL / 2
        live.add([uploaded("c", 1)])
        clock.now += PROGRESS_INTERVAL / 10
        live.add([uploaded("d", 1)])
        assert [summary.uploaded for summary in shown] == [1, 3]
