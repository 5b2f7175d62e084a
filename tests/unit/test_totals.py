"""``s3pput-walk --count``: a total record first, passed on by put, used by stat for an ETA."""

from __future__ import annotations

import pytest

from s3pput.records import Record, from_json, is_total, to_json
from s3pput.stat.progress_line import format_progress
from s3pput.stat.summary import Summary, Tally, summary_to_json
from s3pput.stat.summary_text import format_summary


def test_a_total_record_round_trips_and_is_known_as_one() -> None:
    """total_files and total_bytes are typed fields of version 1; no path, no status."""
    record = from_json(to_json(Record(total_files=3, total_bytes=30)))
    assert (record.total_files, record.total_bytes) == (3, 30)
    assert is_total(record)
    assert not is_total(Record(path="a", total_files=3))
    assert not is_total(Record(total_files=3, status="failed"))


def test_stat_counts_no_total_record_and_sums_those_of_several_hosts() -> None:
    """Two hosts' totals add up; the totals are not records."""
    tally = Tally(started=0.0)
    tally.add(Record(total_files=10, total_bytes=100))
    tally.add(Record(total_files=5, total_bytes=50))
    tally.add(Record(path="a", key="a", status="uploaded", bytes=7, ts=10.0, seconds=1.0))
    summary = tally.summary(10.0)
    assert (summary.records, summary.total_files, summary.total_bytes) == (1, 15, 150)


def test_stat_says_how_many_counted_files_have_no_record() -> None:
    """Records lost on the way are missing, not failed: the summary and the exit say so.

    walk's own failures are records without being counted files, so they do
    not hide a missing one.
    """
    tally = Tally(started=0.0)
    tally.add(Record(total_files=4, total_bytes=40))
    tally.add(Record(path="a", key="a", status="uploaded", bytes=10))
    tally.add(Record(path="b", key="b", status="skipped"))
    tally.add(Record(path="gone", status="failed", stage="walk", error="vanished"))
    summary = tally.summary(1.0)
    assert summary.missing == 2
    assert not summary.ok
    assert "missing:  2 (walk counted 4 files; these have no record)" in format_summary(summary)
    assert summary_to_json(summary)["missing"] == 2
    tally.add(Record(path="c", key="c", status="uploaded", bytes=10))
    tally.add(Record(path="d", key="d", status="uploaded", bytes=10))
    complete = tally.summary(1.0)
    assert (complete.missing, complete.error_count) == (0, 1)  # only walk's failure is left
    assert "missing" not in format_summary(complete)
    assert Summary(uploaded=1).missing is None
    assert "missing" not in summary_to_json(Summary(uploaded=1))


def test_progress_says_how_far_and_when_it_ends() -> None:
    """150 of 1,000 files in 10 s: 15%, and 850 more at that pace take 57 s."""
    summary = Summary(uploaded=120, skipped=30, bytes=10**8, seconds=10, total_files=1000)
    text = format_progress(summary)
    assert text.startswith("150/1000 files (15%), 120 uploaded, 30 skipped")
    assert text.endswith("ETA 0:57")
    assert "ETA" not in format_progress(Summary(uploaded=3, seconds=1))
    assert summary.eta == pytest.approx(56.67, abs=0.01)
