"""The live progress line: it fits the terminal, keeps what matters, says what was interrupted."""

from __future__ import annotations

import io
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from s3pput.records import INTERRUPTED, Record
from s3pput.stat.live_tally import LiveTally
from s3pput.stat.progress_line import ProgressLine, format_progress
from s3pput.stat.summary import Summary, Tally

LONG_RUN = Summary(
    uploaded=123000,
    skipped=456,
    failed=7,
    bytes=1300 * 1024**3,
    seconds=4000.0,
    total_files=200000,
    total_bytes=2000 * 1024**3,
)
"""A run far enough along to fill every field: its full line is over 100 characters."""


class TestFormatProgress:
    def test_a_long_run_fills_more_than_80_columns(self) -> None:
        """The line the width rules are about: every field, wider than an 80-column terminal."""
        text = format_progress(LONG_RUN)

        assert text == (
            "123463/200000 files (62%), 123000 uploaded, 456 skipped, 1.3 TiB, "
            "30.8 files/s, 332.8 MiB/s, 7 failed, ETA 41:20"
        )
        assert len(text) > 80

    def test_at_80_columns_the_failed_count_and_eta_stay(self) -> None:
        """The least important fields go whole; the end of the line, failed and ETA, stays."""
        text = format_progress(LONG_RUN, width=79)

        assert text == "123463/200000 files (62%), 1.3 TiB, 332.8 MiB/s, 7 failed, ETA 41:20"

    def test_fields_go_in_order_of_importance(self) -> None:
        """Narrower and narrower, the line keeps how far the run is, failures and the ETA last."""
        widths = [120, 100, 90, 79, 60, 45, 30]

        shown = [format_progress(LONG_RUN, width=width) for width in widths]

        assert shown == [
            format_progress(LONG_RUN),
            (
                "123463/200000 files (62%), 123000 uploaded, 456 skipped, 1.3 TiB, 332.8 MiB/s, "
                "7 failed, ETA 41:20"
            ),
            (
                "123463/200000 files (62%), 123000 uploaded, 1.3 TiB, 332.8 MiB/s, 7 failed, "
                "ETA 41:20"
            ),
            "123463/200000 files (62%), 1.3 TiB, 332.8 MiB/s, 7 failed, ETA 41:20",
            "123463/200000 files (62%), 332.8 MiB/s, 7 failed, ETA 41:20",
            "123463/200000 files (62%), 7 failed",
            "123463/200000 files (62%)",
        ]

    def test_only_a_field_too_wide_alone_is_cut(self) -> None:
        """A terminal narrower than the most important field gets that field's start."""
        assert format_progress(LONG_RUN, width=10) == "123463/200"

    @given(
        counts=st.tuples(*[st.integers(min_value=0, max_value=10**12)] * 5),
        seconds=st.floats(min_value=0, max_value=1e9),
        total=st.none() | st.integers(min_value=0, max_value=10**12),
        width=st.integers(min_value=1, max_value=300),
    )
    def test_never_wider_than_the_terminal(
        self, counts: tuple[int, ...], seconds: float, total: int | None, width: int
    ) -> None:
        """Whatever the counts and the width, the line never wraps (that breaks the redraw)."""
        uploaded, failed, interrupted, invalid, size = counts
        summary = Summary(
            uploaded=uploaded,
            failed=failed + interrupted,
            interrupted=interrupted,
            invalid=invalid,
            bytes=size,
            seconds=seconds,
            total_files=total,
        )

        assert len(format_progress(summary, width=width)) <= width

    def test_interrupted_records_are_not_shown_as_failed(self) -> None:
        """After Ctrl-C, records put never finished (or never started) are counted apart."""
        summary = Summary(uploaded=3, failed=10, interrupted=8, seconds=1.0)

        assert format_progress(summary).endswith("2 failed, 8 interrupted")

    def test_interrupted_shows_only_when_some_were(self) -> None:
        """A run nobody stopped does not mention interruptions."""
        assert "interrupted" not in format_progress(Summary(uploaded=3, failed=1))

    def test_a_count_under_way_has_no_eta_yet(self) -> None:
        """Files still being counted: the total so far with a +, and no ETA that would be wrong."""
        summary = Summary(uploaded=150, seconds=10, total_files=1000, counting=True)

        text = format_progress(summary)

        assert text.startswith("150/1000+ files, 150 uploaded")
        assert "ETA" not in text
        assert "%" not in text


class TestInterruptedCount:
    def test_put_s_interrupted_records_are_counted_apart_among_failed(self) -> None:
        """The tally counts records that failed "interrupted", still among failed for the exit."""
        tally = Tally(started=0.0)
        tally.add(Record(key="a", status="uploaded", bytes=1))
        tally.add(Record(key="b", status="failed", stage="put", error="AccessDenied: no"))
        for key in ("c", "d", "e"):
            tally.add(Record(key=key, status="failed", stage="put", error=INTERRUPTED))

        summary = tally.summary(1.0)

        assert (summary.failed, summary.interrupted) == (4, 3)
        assert not summary.ok


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """The time the test set."""
        return self.now


class Totals:
    """What a count ahead reports: a running count, then the whole."""

    def __init__(self, files: int, size: int, *, done: bool) -> None:
        self.files = files
        self.bytes = size
        self.done = done


class TestLiveTallyTotals:
    def test_a_running_count_is_shown_as_one(self) -> None:
        """Totals from a count still under way reach the line, marked as counting."""
        shown: list[Summary] = []
        clock = FakeClock()
        expected = Totals(40, 4000, done=False)
        live = LiveTally(Tally(started=clock()), shown.append, clock=clock, expected=expected)

        live.add([Record(key="a", status="uploaded", bytes=100, ts=1.0, seconds=1.0)])
        expected.files, expected.done = 50, True
        clock.now += 1
        live.add([Record(key="b", status="uploaded", bytes=100, ts=2.0, seconds=1.0)])

        assert [(s.total_files, s.counting) for s in shown] == [(40, True), (50, False)]
        assert shown[0].eta is None
        assert shown[1].eta == 48 * 2.0 / 2

    def test_the_final_summary_does_not_count_the_estimate(self) -> None:
        """The count ahead is for the line only: it never becomes missing files in the summary."""
        clock = FakeClock()
        live = LiveTally(
            Tally(started=clock()), lambda _: None, clock=clock, expected=Totals(9, 9, done=True)
        )
        live.add([Record(key="a", status="uploaded", bytes=1)])

        assert live.tally.summary(clock()).total_files is None

    def test_a_total_record_wins_over_the_count_ahead(self) -> None:
        """When walk counted first (--count), its total is the one shown."""
        shown: list[Summary] = []
        clock = FakeClock()
        live = LiveTally(
            Tally(started=clock()), shown.append, clock=clock, expected=Totals(9, 9, done=False)
        )
        live.add([Record(total_files=20, total_bytes=200), Record(key="a", status="uploaded")])

        assert [(s.total_files, s.counting) for s in shown] == [(20, False)]


class TestRedrawing:
    def test_the_line_is_redrawn_while_no_result_comes(self) -> None:
        """A log line of another stage wiped it, or a big file holds the run: it comes back."""
        drawn = threading.Semaphore(0)
        live = LiveTally(Tally(started=0.0), lambda _: drawn.release(), interval=0.01)

        with live.redrawing():
            assert drawn.acquire(timeout=30)
            assert drawn.acquire(timeout=30)

    def test_nothing_is_drawn_once_the_block_ends(self) -> None:
        """The final summary comes after the line is cleared: no redraw may land on it."""
        stream = io.StringIO()
        line = ProgressLine(stream, width=lambda: 0)
        live = LiveTally(Tally(started=0.0), line.show, interval=0.001)

        with live.redrawing():
            deadline = time.monotonic() + 30
            while not line.shown and time.monotonic() < deadline:
                time.sleep(0.01)
        line.clear()
        written = stream.getvalue()
        time.sleep(0.05)

        assert written.endswith("\r\x1b[K")
        assert stream.getvalue() == written


class TestFilesDone:
    def test_walk_s_failures_are_not_files_it_counted(self) -> None:
        """30 files counted and uploaded, one fifo walk could not read: 30/30, not 31/30."""
        summary = Summary(
            uploaded=30, failed=1, walk_failed=1, seconds=3.0, total_files=30, total_bytes=3000
        )

        text = format_progress(summary)

        assert text.startswith("30/30 files (100%), 30 uploaded")
        assert text.endswith("1 failed, ETA 0:00")

    def test_eta_counts_only_the_files_walk_counted(self) -> None:
        """10 of 40 counted files done in 5 s (and a walk failure): 30 more take 15 s."""
        summary = Summary(uploaded=10, failed=1, walk_failed=1, seconds=5.0, total_files=40)

        assert summary.eta == 15.0
