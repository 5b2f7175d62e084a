"""Tests for the stat core: counting, timing, rendering and throttled progress."""

from __future__ import annotations

import io
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3pput.errors import RecordError
from s3pput.records import MAX_NUMBER, Record, from_json, to_json
from s3pput.stat.live_tally import tally_lines
from s3pput.stat.progress_line import ProgressLine, format_progress
from s3pput.stat.summary import (
    ErrorEntry,
    Summary,
    Tally,
    human_bytes,
    summary_to_json,
)
from s3pput.stat.summary_text import format_summary, human_duration


class StepClock:
    """A clock that moves ``step`` seconds each time it is read, so tests never sleep."""

    def __init__(self, step: float, start: float = 0.0) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        """Return the current time, then move on by one step."""
        now = self.now
        self.now += self.step
        return now


def uploaded(
    key: str, size: int, *, ts: float | None = None, seconds: float | None = None
) -> Record:
    """Build an uploaded put result."""
    return Record(path=key, key=key, status="uploaded", bytes=size, ts=ts, seconds=seconds)


def failed(key: str, error: str = "AccessDenied", *, ts: float | None = None) -> Record:
    """Build a failed put result."""
    return Record(path=key, key=key, status="failed", stage="put", error=error, ts=ts)


def tally_of(*records: Record, max_errors: int = 10) -> Tally:
    """Count records in a fresh tally whose fallback clock started at 0."""
    tally = Tally(started=0.0, max_errors=max_errors)
    for record in records:
        tally.add(record)
    return tally


def lines_of(*items: Record | bytes, source: str = "-") -> list[tuple[str, int, bytes]]:
    """Turn records and raw lines into what ``io.read_lines`` yields."""
    raw = [to_json(item).rstrip(b"\n") if isinstance(item, Record) else item for item in items]
    return [(source, number, line) for number, line in enumerate(raw, start=1)]


class TestTally:
    def test_counts_every_status_and_pending(self) -> None:
        """Each status is counted on its own, and records without a status are pending."""
        summary = tally_of(
            uploaded("a", 1),
            uploaded("b", 1),
            Record(key="c", status="skipped"),
            failed("d"),
            Record(key="e", status="planned"),
            Record(path="f"),
        ).summary(0.0)

        assert (summary.uploaded, summary.skipped, summary.failed) == (2, 1, 1)
        assert (summary.planned, summary.pending, summary.invalid) == (1, 1, 0)
        assert summary.records == 6

    def test_bytes_come_only_from_uploaded_records(self) -> None:
        """Bytes of skipped, failed or planned records are not counted as sent."""
        summary = tally_of(
            uploaded("a", 100),
            Record(key="b", status="skipped", bytes=1000),
            Record(key="c", status="failed", bytes=10000, error="x"),
            Record(key="d", status="planned", bytes=100000),
            uploaded("e", 5),
        ).summary(0.0)

        assert summary.bytes == 105

    def test_seconds_span_from_earliest_start_to_latest_finish(self) -> None:
        """Seconds run from the earliest ``ts - seconds`` to the latest ``ts``."""
        summary = tally_of(
            uploaded("a", 1, ts=100.0, seconds=0.5),
            uploaded("b", 1, ts=102.0, seconds=1.0),
            failed("c", ts=101.0),
        ).summary(now=9999.0)

        assert summary.seconds == pytest.approx(2.5)

    def test_missing_seconds_count_as_instant(self) -> None:
        """A record with ``ts`` but no ``seconds`` is a moment, not a span."""
        summary = tally_of(uploaded("a", 1, ts=50.0), uploaded("b", 1, ts=53.0)).summary(0.0)

        assert summary.seconds == pytest.approx(3.0)

    def test_falls_back_to_reading_time_without_ts(self) -> None:
        """Without any ``ts`` the time spent reading is all there is to report."""
        tally = Tally(started=10.0)
        tally.add(uploaded("a", 1))

        assert tally.summary(now=14.0).seconds == pytest.approx(4.0)

    def test_records_without_ts_do_not_disturb_the_span(self) -> None:
        """Mixing timed and untimed records uses the timed ones only."""
        tally = Tally(started=0.0)
        tally.add(uploaded("a", 1, ts=10.0, seconds=2.0))
        tally.add(uploaded("b", 1))

        assert tally.summary(now=1000.0).seconds == pytest.approx(2.0)

    def test_invalid_lines_are_not_records(self) -> None:
        """An invalid line is counted as invalid and listed, but not as a record."""
        tally = tally_of(uploaded("a", 1))
        tally.add_invalid(7, "not JSON", source="run.ndjson")
        summary = tally.summary(0.0)

        assert (summary.records, summary.invalid) == (1, 1)
        assert summary.errors == (
            ErrorEntry(error="not JSON", stage="stat", line=7, source="run.ndjson"),
        )
        assert not summary.ok

    def test_first_errors_are_kept_in_order_up_to_the_limit(self) -> None:
        """Only the first ``max_errors`` errors are kept, but all are counted."""
        summary = tally_of(*(failed(f"k{i}", f"boom {i}") for i in range(5)), max_errors=2).summary(
            0.0
        )

        assert [entry.key for entry in summary.errors] == ["k0", "k1"]
        assert summary.failed == 5
        assert summary.error_count == 5

    def test_a_failure_without_message_still_says_it_failed(self) -> None:
        """A failed record with no ``error`` gets a placeholder rather than an empty line."""
        summary = tally_of(Record(key="a", status="failed")).summary(0.0)

        assert summary.errors[0].error == "failed without an error message"

    def test_negative_error_limit_is_refused(self) -> None:
        """A negative limit is a programming error, caught at construction."""
        with pytest.raises(ValueError, match="negative"):
            Tally(started=0.0, max_errors=-1)


class TestSummary:
    def test_rates_are_zero_when_no_time_passed(self) -> None:
        """A zero-second run reports zero rates instead of dividing by zero."""
        summary = Summary(uploaded=3, bytes=300, seconds=0.0)

        assert (summary.bytes_per_second, summary.files_per_second) == (0.0, 0.0)

    def test_rates_divide_by_seconds(self) -> None:
        """Rates are uploaded bytes and files per second of the run."""
        summary = Summary(uploaded=3, bytes=300, seconds=2.0)

        assert (summary.bytes_per_second, summary.files_per_second) == (150.0, 1.5)

    def test_all_good_only_without_failures_or_invalid_lines(self) -> None:
        """Skipped, planned and pending records do not make a run bad."""
        assert Summary(uploaded=1, skipped=1, planned=1, pending=1).ok
        assert not Summary(failed=1).ok
        assert not Summary(invalid=1).ok


class TestTallyLines:
    def test_parses_valid_lines_and_counts_invalid_ones(self) -> None:
        """Bad JSON and wrong types count as invalid, with the line number and file."""
        tally = Tally(started=0.0)
        tally_lines(
            lines_of(uploaded("a", 10), b"not json", b'{"size": "big"}', source="x.ndjson"),
            tally,
            clock=StepClock(0.0),
        )
        summary = tally.summary(0.0)

        assert (summary.uploaded, summary.invalid) == (1, 2)
        assert [(entry.source, entry.line) for entry in summary.errors] == [
            ("x.ndjson", 2),
            ("x.ndjson", 3),
        ]

    def test_stdin_is_not_named_as_a_source(self) -> None:
        """Invalid lines from stdin show a line number only, not ``-``."""
        tally = Tally(started=0.0)
        tally_lines(lines_of(b"[]"), tally, clock=StepClock(0.0))

        assert tally.summary(0.0).errors[0].where == "line 1"

    def test_invalid_lines_are_reported_to_the_caller(self) -> None:
        """``on_invalid`` hears the source, line number and reason of each bad line."""
        heard: list[tuple[str, int, str]] = []
        tally_lines(
            lines_of(uploaded("a", 1), b"{"),
            Tally(started=0.0),
            clock=StepClock(0.0),
            on_invalid=lambda source, line, error: heard.append((source, line, error)),
        )

        assert len(heard) == 1
        assert heard[0][:2] == ("-", 2)
        assert heard[0][2].startswith("not JSON")

    def test_progress_shows_on_the_first_line_then_at_most_every_interval(self) -> None:
        """With 0.1 s between lines and a 0.25 s interval, every third line refreshes."""
        shown: list[Summary] = []
        tally_lines(
            lines_of(*(uploaded(f"k{i}", 1) for i in range(10))),
            Tally(started=0.0),
            clock=StepClock(0.1),
            on_progress=shown.append,
            interval=0.25,
        )

        assert [summary.uploaded for summary in shown] == [1, 4, 7, 10]

    def test_no_progress_without_a_listener(self) -> None:
        """Without ``on_progress`` the clock is never read, so it costs nothing."""
        clock = StepClock(1.0)
        tally_lines(lines_of(uploaded("a", 1)), Tally(started=0.0), clock=clock)

        assert clock.now == 0.0


class TestFormatSummary:
    def test_first_line_reads_in_the_progress_lines_units(self) -> None:
        """Sizes and rates in binary units, the time in seconds: no raw byte counts."""
        summary = Summary(uploaded=2000, bytes=5117440, seconds=13.3)

        first = format_summary(summary).splitlines()[0]

        assert first == "put 4.9 MiB in 2000 files in 13.3 s (375.8 KiB/s, 150.4 files/s)"

    def test_one_file_is_not_files(self) -> None:
        """A single file reads ``1 file``."""
        first = format_summary(Summary(uploaded=1, bytes=10, seconds=2.0)).splitlines()[0]

        assert first == "put 10 B in 1 file in 2.0 s (5 B/s, 0.5 files/s)"

    def test_empty_run_reads_as_zero(self) -> None:
        """Nothing read still gives a well-formed line with zero rates."""
        first = format_summary(Summary()).splitlines()[0]

        assert first == "put 0 B in 0 files in 0.0 s (0 B/s, 0.0 files/s)"

    def test_a_copy_run_says_what_it_copied(self) -> None:
        """Server-side copies send no bytes: the summary counts the bytes they copied."""
        summary = Summary(uploaded=10, copied=10, copied_bytes=10 * 1024**2, seconds=4.0)

        lines = format_summary(summary).splitlines()

        assert lines[0] == (
            "copied 10.0 MiB in 10 files server-side in 4.0 s (2.5 MiB/s, 2.5 files/s)"
        )
        assert lines[1] == "uploaded: 10 (10 copied server-side)"

    def test_a_mixed_run_says_what_it_sent_and_what_it_copied(self) -> None:
        """Uploads and copies in one run: each named, the rate over both."""
        summary = Summary(uploaded=3, bytes=2048, copied=1, copied_bytes=2048, seconds=2.0)

        first = format_summary(summary).splitlines()[0]

        assert first == (
            "put 2.0 KiB in 2 files and copied 2.0 KiB in 1 file server-side "
            "in 2.0 s (2.0 KiB/s, 1.5 files/s)"
        )

    def test_skips_are_broken_down_by_reason(self) -> None:
        """The skipped line says why, most frequent reason first."""
        summary = Summary(skipped=5, skipped_by_reason=(("exists", 2), ("unchanged", 3)))

        assert "skipped:  5 (3 unchanged, 2 exists)" in format_summary(summary).splitlines()

    def test_interrupted_records_are_not_failures(self) -> None:
        """After Ctrl-C, what never finished is interrupted, and ``failed:`` counts the rest."""
        summary = Summary(failed=5, interrupted=4)

        lines = format_summary(summary).splitlines()

        assert "failed:   1" in lines
        assert "interrupted: 4 (the run was stopped before they finished; replay them)" in lines

    def test_interrupted_records_put_never_began_are_told_apart(self) -> None:
        """``reason`` ``not started``: counted among the interrupted, and said so."""
        stopped = Record(key="a", path="a", status="failed", stage="put", error="interrupted")
        tally = tally_of(stopped, stopped.evolve(key="b", path="b", reason="not started"))

        summary = tally.summary(0.0)

        assert (summary.interrupted, summary.not_started) == (2, 1)
        assert summary_to_json(summary)["not_started"] == 1
        line = "interrupted: 2 (1 never started; the run was stopped before they finished; "
        assert f"{line}replay them)" in format_summary(summary).splitlines()

    def test_recovered_failures_are_said_to_be(self) -> None:
        """A replay that uploaded what failed: the failed line says all were recovered."""
        summary = Summary(uploaded=3, failed=3, recovered=3)

        assert "failed:   3 (all 3 recovered later)" in format_summary(summary).splitlines()

    def test_one_recovered_failure_reads_simply(self) -> None:
        """One failure, one retry: no ``all 1`` and no ``1 records``."""
        summary = Summary(uploaded=1, failed=1, recovered=1, retries=1, records_retried=1)

        lines = format_summary(summary).splitlines()

        assert "failed:   1 (recovered later)" in lines
        assert "retries:  1 (1 record needed more than one try)" in lines

    def test_partly_recovered_failures_say_how_many_are_left(self) -> None:
        """Failures and interruptions each say how many a later record made good."""
        summary = Summary(failed=6, interrupted=2, recovered=3, recovered_interrupted=2)

        lines = format_summary(summary).splitlines()

        assert "failed:   4 (1 recovered later, 3 not)" in lines
        assert "interrupted: 2 (all 2 recovered later)" in lines

    def test_retries_are_counted_when_there_were_some(self) -> None:
        """Total retries and the records that needed them; nothing when none did."""
        summary = Summary(uploaded=4, retries=7, records_retried=2)

        assert (
            "retries:  7 (2 records needed more than one try)"
            in format_summary(summary).splitlines()
        )
        assert "retries" not in format_summary(Summary(uploaded=4))

    def test_a_recovered_error_is_marked_in_the_list(self) -> None:
        """The error list shows which of its failures a later run made good."""
        summary = Summary(
            failed=1,
            recovered=1,
            errors=(ErrorEntry(error="AccessDenied", stage="put", key="k", recovered=True),),
        )

        assert format_summary(summary).splitlines()[-1] == (
            "  k [put]: AccessDenied (recovered later)"
        )

    def test_counts_follow_one_per_line(self) -> None:
        """Each status has its own line, so ``grep failed`` finds it."""
        summary = Summary(uploaded=1, skipped=2, failed=3, planned=4, pending=5, invalid=6)

        lines = format_summary(summary).splitlines()[1:7]

        assert [line.split() for line in lines] == [
            ["uploaded:", "1"],
            ["skipped:", "2"],
            ["failed:", "3"],
            ["planned:", "4"],
            ["pending:", "5"],
            ["invalid:", "6"],
        ]

    def test_errors_list_names_where_stage_and_why(self) -> None:
        """Each error shows key (or path, or file and line), stage and message on one line."""
        summary = Summary(
            failed=3,
            invalid=1,
            errors=(
                ErrorEntry(error="AccessDenied", stage="put", key="k", path="p"),
                ErrorEntry(error="gone", stage="walk", path="only/path"),
                ErrorEntry(error="not JSON", stage="stat", line=4, source="b.ndjson"),
            ),
        )

        text = format_summary(summary)

        assert text.endswith(
            "first errors (3 of 4):\n"
            "  k [put]: AccessDenied\n"
            "  only/path [walk]: gone\n"
            "  b.ndjson:4 [stat]: not JSON\n"
            "  ... and 1 more\n"
        )

    def test_multi_line_errors_stay_on_one_line(self) -> None:
        """An error message with newlines cannot break the one-error-per-line list."""
        summary = Summary(failed=1, errors=(ErrorEntry(error="a\nb", stage="put", key="k"),))

        assert format_summary(summary).splitlines()[-1] == "  k [put]: a b"

    def test_control_characters_in_names_and_errors_are_escaped(self) -> None:
        """A key named with an escape sequence cannot paint the terminal the summary is read on."""
        summary = Summary(
            failed=2,
            errors=(
                ErrorEntry(error="no \x1b[2J such", stage="put", key="esc\x1b[31mred"),
                ErrorEntry(error="gone", stage="walk", path="a\nb\tc"),
            ),
        )

        text = format_summary(summary)

        assert "\x1b" not in text
        assert text.endswith(
            "  esc\\x1b[31mred [put]: no \\x1b[2J such\n  a\\nb\\tc [walk]: gone\n"
        )

    def test_no_errors_no_errors_heading(self) -> None:
        """A clean run has no error section at all."""
        assert "errors" not in format_summary(Summary(uploaded=1))


class TestSummaryToJson:
    def test_has_every_documented_field(self) -> None:
        """Scripts can rely on counts, bytes, seconds, rates and errors being present."""
        tally = tally_of(uploaded("a", 100, ts=10.0, seconds=2.0), failed("b", ts=11.0))
        tally.add_invalid(3, "not JSON")

        obj = summary_to_json(tally.summary(0.0))

        assert obj == {
            **LEGACY_FIELDS,
            "copied": 0,
            "copied_bytes": 0,
            "skipped_by_reason": {},
            "interrupted": 0,
            "not_started": 0,
            "recovered": 0,
            "still_failed": 1,
            "records_retried": 0,
            "retries": 0,
        }

    def test_new_fields_only_add_to_what_scripts_read_before(self) -> None:
        """Every field of the summary before the human summary keeps its name and value."""
        tally = tally_of(uploaded("a", 100, ts=10.0, seconds=2.0), failed("b", ts=11.0))
        tally.add_invalid(3, "not JSON")

        obj = summary_to_json(tally.summary(0.0))

        assert {name: obj[name] for name in LEGACY_FIELDS} == LEGACY_FIELDS
        assert list(obj)[: len(LEGACY_FIELDS)] == list(LEGACY_FIELDS)

    @pytest.mark.parametrize("seconds", [math.inf, math.nan, 1e-300, 0.0])
    def test_never_holds_infinity_or_nan(self, seconds: float) -> None:
        """Whatever the span, every number is one strict JSON can carry."""
        summary = Summary(uploaded=1, bytes=2**63 - 1, seconds=seconds)

        text = json.dumps(summary_to_json(summary), allow_nan=False)

        assert json.loads(text)["bytes_per_second"] >= 0


LEGACY_FIELDS: dict[str, object] = {
    "records": 2,
    "uploaded": 1,
    "skipped": 0,
    "failed": 1,
    "planned": 0,
    "pending": 0,
    "invalid": 1,
    "bytes": 100,
    "seconds": 3.0,
    "bytes_per_second": 33.333,
    "files_per_second": 0.333,
    "errors": [
        {
            "key": "b",
            "path": "b",
            "line": None,
            "source": None,
            "stage": "put",
            "error": "AccessDenied",
        },
        {
            "key": None,
            "path": None,
            "line": 3,
            "source": None,
            "stage": "stat",
            "error": "not JSON",
        },
    ],
}


"""``--json`` of a run before the human summary: the new fields may only add to it."""


class TestHumanDuration:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (0.0, "0.0 s"),
            (13.34, "13.3 s"),
            (59.9, "59.9 s"),
            (59.96, "1 min 0 s"),
            (125.0, "2 min 5 s"),
            (3599.4, "59 min 59 s"),
            (3720.0, "1 h 2 min"),
            (90000.0, "25 h 0 min"),
        ],
    )
    def test_reads_as_a_person_says_it(self, seconds: float, text: str) -> None:
        """Seconds with a decimal under a minute, then minutes and seconds, then hours."""
        assert human_duration(seconds) == text


class TestHumanBytes:
    @pytest.mark.parametrize(
        ("count", "text"),
        [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1536, "1.5 KiB"),
            (5 * 1024**3, "5.0 GiB"),
            (1024**7, "1024.0 EiB"),
        ],
    )
    def test_picks_the_largest_unit_below_1024(self, count: int, text: str) -> None:
        """Sizes read like ``ls -h``: whole bytes, then one decimal of a binary unit."""
        assert human_bytes(count) == text


class TestFormatProgress:
    def test_shows_records_uploaded_bytes_rates_and_failures(self) -> None:
        """The live line says how far along the run is and how fast it goes."""
        summary = Summary(uploaded=2, skipped=1, failed=1, bytes=3 * 1024**2, seconds=2.0)

        assert format_progress(summary) == (
            "4 records, 2 uploaded, 1 skipped, 3.0 MiB, 1.0 files/s, 1.5 MiB/s, 1 failed"
        )

    def test_mentions_invalid_lines_only_when_there_are_some(self) -> None:
        """Invalid lines show up in progress, but do not clutter a clean run."""
        assert format_progress(Summary(invalid=2)).endswith("0 failed, 2 invalid")


class TestProgressLine:
    def test_redraws_in_place_and_clears(self) -> None:
        """Each refresh starts with ``\\r`` and erases leftovers; clear leaves an empty line."""
        stream = io.StringIO()
        line = ProgressLine(stream, width=lambda: 0)

        line.show(Summary(uploaded=1))
        line.clear()

        assert stream.getvalue() == (
            "\r1 records, 1 uploaded, 0 B, 0.0 files/s, 0 B/s, 0 failed\x1b[K\r\x1b[K"
        )
        assert not line.shown

    def test_clear_without_show_writes_nothing(self) -> None:
        """Clearing before anything was drawn leaves the terminal alone."""
        stream = io.StringIO()

        ProgressLine(stream, width=lambda: 0).clear()

        assert stream.getvalue() == ""

    def test_fits_the_terminal_width_by_leaving_fields_out(self) -> None:
        """A line wider than the terminal would wrap and break the redraw: whole fields go."""
        stream = io.StringIO()

        ProgressLine(stream, width=lambda: 30).show(Summary(uploaded=1, failed=2))

        assert stream.getvalue() == "\r3 records, 0 B/s, 2 failed\x1b[K"

    def test_reads_the_width_again_at_each_redraw(self) -> None:
        """A terminal made narrower mid-run gets a line that fits it from the next redraw."""
        stream = io.StringIO()
        widths = iter([0, 20])
        line = ProgressLine(stream, width=lambda: next(widths))

        line.show(Summary(uploaded=1))
        line.show(Summary(uploaded=1))

        first, second = stream.getvalue().split("\x1b[K")[:2]
        assert first == "\r1 records, 1 uploaded, 0 B, 0.0 files/s, 0 B/s, 0 failed"
        assert second == "\r1 records, 0 failed"


times = st.floats(min_value=0, max_value=2.0**63) | st.integers(min_value=0, max_value=2**63)
hostile_results = st.lists(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["uploaded", "skipped", "failed"])},
        optional={
            "bytes": st.integers(min_value=0, max_value=MAX_NUMBER),
            "ts": times,
            "seconds": times,
            "total_files": st.integers(min_value=0, max_value=MAX_NUMBER),
        },
    ),
    max_size=6,
)
"""Results with the largest and smallest numbers a record may hold."""


class TestHostileNumbers:
    @given(hostile_results)
    def test_any_valid_record_can_be_summed_and_shown(
        self, objects: list[dict[str, object]]
    ) -> None:
        """Whatever numbers the records hold, the summary renders as text and as strict JSON."""
        tally = Tally(started=0.0)
        for obj in objects:
            total = "total_files" in obj  # a total record has no status
            fields = {k: v for k, v in obj.items() if not (total and k == "status")}
            tally.add(from_json(json.dumps(fields)))
        summary = tally.summary(1.0)

        format_summary(summary)
        format_progress(summary)
        json.dumps(summary_to_json(summary), allow_nan=False)

    def test_rates_of_a_tiny_span_stay_finite(self) -> None:
        """Two results a denormal apart: a rate is not infinite, so it can be shown and written."""
        summary = tally_of(uploaded("a", 10, ts=0.0), uploaded("b", 10, ts=5e-324)).summary(0.0)

        assert "inf" not in format_summary(summary)
        json.dumps(summary_to_json(summary), allow_nan=False)

    @pytest.mark.parametrize("field", ["bytes", "seconds", "ts"])
    def test_a_number_too_large_is_an_invalid_line(self, field: str) -> None:
        """A 400-digit number is one invalid line; the other lines still count."""
        huge = b'{"key": "h", "status": "uploaded", "%s": 1%s}' % (field.encode(), b"0" * 400)
        tally = Tally(started=0.0)
        tally_lines(lines_of(uploaded("a", 1, ts=5.0), huge), tally, clock=lambda: 0.0)
        summary = tally.summary(0.0)

        assert (summary.uploaded, summary.invalid) == (1, 1)
        assert f"{field} is " in summary.errors[0].error
        with pytest.raises(RecordError):
            from_json(huge)
