"""The run report's numbers: time bins, latency percentiles, error kinds, hosts, slowest keys."""

from __future__ import annotations

import math
import tracemalloc

import pytest

from s3pput.records import Record
from s3pput.stat.report_data import (
    MAX_HOSTS,
    MAX_KINDS,
    MAX_STOPS,
    OTHER_HOSTS,
    OTHER_KIND,
    SLOWEST,
    ReportingTally,
    RunReport,
    error_kind,
)
from s3pput.stat.report_stats import LatencyHistogram, TimeSeries


def uploaded(  # noqa: PLR0913  # a record's fields, each named at the call
    key: str,
    *,
    size: int = 100,
    ts: float | None = 1000.0,
    seconds: float | None = 0.5,
    attempts: int | None = 1,
    host: str | None = None,
) -> Record:
    """An uploaded put result."""
    return Record(
        path=key,
        key=key,
        size=size,
        status="uploaded",
        bytes=size,
        ts=ts,
        seconds=seconds,
        attempts=attempts,
        extra={} if host is None else {"host": host},
    )


def failed(key: str, error: str, *, ts: float | None = 1000.0) -> Record:
    """A failed put result."""
    return Record(path=key, key=key, status="failed", stage="put", error=error, ts=ts, seconds=1.0)


class TestTimeSeries:
    """Sums over time bins that widen, so a run of any length fits a fixed number of bins."""

    def test_sums_what_falls_in_one_bin(self) -> None:
        """Two values in the same tenth of a second add up."""
        times = TimeSeries(("files",))
        times.add("h", 10.01, "files", 1)
        times.add("h", 10.05, "files", 2)
        assert [times.value("h", k, "files") for k in times.bins()] == [3]

    def test_widens_its_bins_and_keeps_every_value(self) -> None:
        """A day of values in 240 bins: the width grows, the sum stays."""
        times = TimeSeries(("files",), max_bins=240)
        for second in range(0, 86400, 7):
            times.add("h", 1_700_000_000 + second, "files", 1)
        assert len(times.bins()) <= 240  # max_bins
        assert times.width_seconds >= 86400 / 240
        total = sum(times.value("h", k, "files") for k in times.bins())
        assert total == len(range(0, 86400, 7))

    def test_spreads_bytes_over_the_time_they_took(self) -> None:
        """An upload of 10 s spreads its bytes evenly over the bins it spans."""
        times = TimeSeries(("bytes",), max_bins=1000)
        times.spread("h", 100.0, 110.0, "bytes", 1000)
        values = [times.value("h", k, "bytes") for k in times.bins()]
        assert sum(values) == pytest.approx(1000)
        assert max(values) == pytest.approx(10)  # 100 bins of 0.1 s

    def test_a_far_away_time_stays_bounded(self) -> None:
        """A clock wrong by years makes bins wide, not a billion of them."""
        times = TimeSeries(("files",), max_bins=100)
        times.add("h", 1.0, "files", 1)
        times.add("h", 9e15, "files", 1)
        assert len(times.bins()) <= 100  # max_bins
        assert sum(times.value("h", k, "files") for k in times.bins()) == 2


class TestLatencyHistogram:
    """Percentiles from fixed log-scale buckets, within a few per cent."""

    def test_percentiles_are_close_to_the_exact_ones(self) -> None:
        """p50/p90/p99 of 1..1000 ms are within 5 % of the true ones; the maximum is exact."""
        histogram = LatencyHistogram()
        for ms in range(1, 1001):
            histogram.add(ms / 1000)
        result = histogram.percentiles()
        assert result.count == 1000
        assert result.p50 == pytest.approx(0.5, rel=0.05)
        assert result.p90 == pytest.approx(0.9, rel=0.05)
        assert result.p99 == pytest.approx(0.99, rel=0.05)
        assert result.max == 1.0

    def test_an_empty_histogram_has_no_percentiles(self) -> None:
        """Nothing counted: NaN, which the page shows as a dash."""
        assert math.isnan(LatencyHistogram().percentiles().p50)

    def test_extreme_durations_are_counted(self) -> None:
        """Zero and a week land in the first and last buckets; the maximum stays exact."""
        histogram = LatencyHistogram()
        histogram.add(0.0)
        histogram.add(7 * 86400.0)
        assert histogram.percentiles().max == 7 * 86400.0
        assert histogram.quantile(0.5) <= 1e-4  # the first bucket: 0.1 ms or less
        assert histogram.quantile(1.0) == 7 * 86400.0


class TestErrorKind:
    """An error line's kind: S3's operation and code, or the words before the details."""

    @pytest.mark.parametrize(
        ("error", "kind"),
        [
            ("PutObject: SlowDown Please reduce your request rate.", "PutObject: SlowDown"),
            ("UploadPart: AWS_ERROR_UNKNOWN: Unknown error", "UploadPart: AWS_ERROR_UNKNOWN"),
            ("No such file or directory: /data/a.txt", "No such file or directory"),
            ("changed while uploading: /data/a.txt", "changed while uploading"),
            ("duplicate key (also from d1/x.txt)", "duplicate key"),
            ("line 3: not JSON: Expecting value", "not JSON"),
            ("interrupted", "interrupted"),
            ("", "no error message"),
        ],
    )
    def test_groups_errors_by_kind(self, error: str, kind: str) -> None:
        """Errors differing only in their key or message fall into one kind."""
        assert error_kind(error) == kind


class TestRunReport:
    """What the page shows, summed record by record."""

    def test_hosts_come_from_the_host_field_else_the_input_file(self) -> None:
        """A record's ``host`` names its line; without one, the file it was read from does."""
        report = RunReport()
        report.add(uploaded("a"), "host1.ndjson")
        report.add(uploaded("b", host="web-2"), "host1.ndjson")
        report.add(uploaded("c"), "-")
        assert report.hosts() == ["host1.ndjson", "web-2", "stdin"]
        assert set(report.times.series()) == {"host1.ndjson", "web-2", "stdin"}

    def test_many_hosts_share_one_line_beyond_the_limit(self) -> None:
        """A host per record does not make a line per record."""
        report = RunReport()
        for i in range(4 * MAX_HOSTS + 1):
            report.add(uploaded(f"k{i}", host=f"h{i}"), "-")
        assert len(report.hosts()) == MAX_HOSTS + 1
        assert report.hosts()[-1] == OTHER_HOSTS
        assert set(report.times.series()) == set(report.hosts())

    def test_stop_records_are_bounded(self) -> None:
        """A million stop records (a hostile input) keep a few to show, and count the rest."""
        report = RunReport()
        stop = Record(status="failed", stage="put", error="NoSuchBucket", extra={"fatal": True})
        for _ in range(1000):
            report.add(stop, "-")
        assert len(report.stopped) <= MAX_STOPS + 1
        assert report.stopped[-1] == "and 990 more stops"

    def test_latency_is_by_size_band_of_uploads(self) -> None:
        """Small and large files are timed apart; failures are not uploads."""
        report = RunReport()
        report.add(uploaded("small", size=10, seconds=0.01), "-")
        report.add(uploaded("big", size=300 * 1024 * 1024, seconds=30.0), "-")
        report.add(failed("f", "PutObject: SlowDown x"), "-")
        bands = {b.band: b.latency for b in report.latency()}
        assert set(bands) == {"< 64 KiB", ">= 256 MiB"}
        assert bands["< 64 KiB"].max == 0.01
        assert bands[">= 256 MiB"].count == 1

    def test_errors_are_counted_by_kind_with_the_first_example(self) -> None:
        """Two SlowDowns and a missing file: two kinds, most frequent first."""
        report = RunReport()
        report.add(failed("a", "PutObject: SlowDown Please reduce"), "-")
        report.add(failed("b", "No such file or directory: b"), "-")
        report.add(failed("c", "PutObject: SlowDown Please reduce"), "-")
        report.add_invalid("not JSON: x", "run.ndjson:4")
        kinds = report.errors()
        assert [(k.kind, k.count) for k in kinds] == [
            ("PutObject: SlowDown", 2),
            ("No such file or directory", 1),
            ("not a record", 1),
        ]
        assert kinds[0].where == "a"

    def test_error_kinds_are_bounded(self) -> None:
        """Errors of a thousand shapes keep a bounded list; the rest count as one."""
        report = RunReport()
        for i in range(1000):
            report.add(failed(f"k{i}", f"strange failure number {i}"), "-")
        kinds = report.errors()
        assert len(kinds) == MAX_KINDS + 1
        assert sum(k.count for k in kinds) == 1000
        assert OTHER_KIND in {k.kind for k in kinds}

    def test_keeps_the_slowest_records_slowest_first(self) -> None:
        """Of 500 records, the 20 slowest, in order."""
        report = RunReport()
        for i in range(500):
            report.add(uploaded(f"k{i}", seconds=(i * 37) % 500 / 10), "-")
        slow = report.slowest()
        assert len(slow) == SLOWEST
        assert [s.seconds for s in slow] == sorted((s.seconds for s in slow), reverse=True)
        assert slow[0].seconds == 49.9

    def test_retries_are_attempts_beyond_the_first(self) -> None:
        """Attempts 3 is two retries; attempts 0 (nothing sent) and 1 are none."""
        report = RunReport()
        report.add(uploaded("a", attempts=3), "-")
        report.add(uploaded("b", attempts=1), "-")
        report.add(uploaded("c", attempts=0), "-")
        report.add(uploaded("d", attempts=None), "-")
        assert report.retries == (2, 1)
        assert sum(report.times.value("stdin", k, "retries") for k in report.times.bins()) == 2

    def test_records_without_times_still_count(self) -> None:
        """Old outputs without ts or seconds: counted, on no chart, never a crash."""
        report = RunReport()
        report.add(uploaded("a", ts=None, seconds=None, attempts=None), "-")
        report.add(Record(path="p", key="p"), "-")
        report.add(Record(path="w", key="w", status="failed", stage="walk", error="x: y"), "-")
        assert report.records == 3
        assert report.untimed == 3
        assert report.span is None
        assert not report.times.bins()
        assert report.statuses == {"uploaded": 1, "pending": 1, "failed": 1}

    def test_skips_span_the_time_axis(self) -> None:
        """A run of skips has bins over its time, every value zero: the charts show it idle."""
        report = RunReport()
        for second in range(10):
            report.add(Record(path="a", key="a", status="skipped", ts=100.0 + second), "-")
        assert len(report.times.bins()) >= 10  # ten seconds of bins
        assert report.hosts() == ["stdin"]

    def test_total_and_stop_records_are_not_files(self) -> None:
        """Walk's total record is not counted; a stop record is listed as a stop."""
        report = RunReport()
        report.add(Record(total_files=3, total_bytes=30), "-")
        stop = Record(status="failed", stage="put", error="NoSuchBucket", extra={"fatal": True})
        report.add(stop, "-")
        assert report.records == 0
        assert report.stopped == ["put: NoSuchBucket"]

    def test_memory_stays_bounded(self) -> None:
        """Fifty thousand records over a day cost no more than a few hundred KiB."""
        report = RunReport()
        tracemalloc.start()
        try:
            for i in range(50_000):
                record = uploaded(
                    f"dir/{i}.bin",
                    size=i % 5000,
                    ts=1_700_000_000 + i * 1.7,
                    attempts=1 + (i % 50 == 0),
                )
                report.add(record, "host1.ndjson" if i % 2 else "host2.ndjson")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 2 * 1024 * 1024
        assert report.records == 50_000


class TestReportingTally:
    """stat's tally hands every record to the report too."""

    def test_feeds_the_summary_and_the_report(self) -> None:
        """One record: counted in both, with the input file as its host."""
        tally = ReportingTally(RunReport(), started=0.0)
        tally.source = "h1.ndjson"
        tally.add(uploaded("a"))
        tally.add_invalid(4, "not JSON: x", source="h1.ndjson")
        assert tally.summary(1.0).uploaded == 1
        assert tally.report.hosts() == ["h1.ndjson"]
        assert tally.report.invalid == 1
