"""The run report's page: self-contained, escaped, and whole however little the records say."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from s3pput.records import Record
from s3pput.stat.report_data import RunReport
from s3pput.stat.report_html import render_report, write_report
from s3pput.stat.report_svg import clock_label

SECTIONS = ("summary", "throughput", "latency", "errors", "retries", "slowest")
HOSTILE = '<script>alert("key")</script>\x1b[31m&amp;'


class Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Remember the tag."""
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict[str, str | None]]]:
    """The page's start tags, as a browser's parser sees them."""
    parser = Tags()
    parser.feed(page)
    return parser.tags


def a_run() -> RunReport:
    """Two hosts, an upload each, a failure with a hostile key and error, a retry."""
    report = RunReport()
    report.add(
        Record(
            path="a",
            key="a",
            size=10,
            status="uploaded",
            bytes=10,
            ts=1000.0,
            seconds=0.2,
            attempts=2,
        ),
        "h1.ndjson",
    )
    report.add(
        Record(path="b", key="b", size=10, status="uploaded", bytes=10, ts=1001.0, seconds=0.1),
        "h2.ndjson",
    )
    report.add(
        Record(
            path=HOSTILE,
            key=HOSTILE,
            status="failed",
            stage="put",
            error=f"PutObject: AccessDenied {HOSTILE}",
            ts=1002.0,
            seconds=3.0,
            extra={"host": HOSTILE},
        ),
        "h1.ndjson",
    )
    return report


class TestPage:
    """What any browser will be given."""

    def test_has_every_section(self) -> None:
        """Summary, throughput, latency, errors, retries and the slowest keys."""
        ids = [
            attrs.get("id") for tag, attrs in tags_of(render_report(a_run())) if tag == "section"
        ]
        assert ids == list(SECTIONS)

    def test_fetches_nothing_and_runs_nothing(self) -> None:
        """No script, no link, no image, no url(): the page works offline, and says so in a CSP."""
        page = render_report(a_run())
        names = {tag for tag, _ in tags_of(page)}
        assert names.isdisjoint({"script", "link", "img", "iframe", "object", "embed"})
        assert "url(" not in page
        assert "@import" not in page
        assert not re.search(r"""\b(src|href)\s*=""", page)
        assert "default-src 'none'" in page

    def test_text_from_records_is_escaped(self) -> None:
        """A key, an error and a host named ``<script>...`` show as text, never as markup."""
        page = render_report(a_run())
        assert "<script>" not in page
        assert "&lt;script&gt;alert(&quot;key&quot;)&lt;/script&gt;" in page
        assert "\x1b" not in page
        assert "\\x1b[31m&amp;amp;" in page
        assert all(tag != "script" for tag, _ in tags_of(page))

    def test_draws_a_line_per_host_and_their_total(self) -> None:
        """Two input files and a host field: three hosts, a total, on each chart over time."""
        page = render_report(a_run())
        throughput = page.split('id="throughput"')[1].split("</section>")[0]
        assert throughput.count("<polyline") == 2 * 4  # two charts, three hosts and the total

    def test_draws_the_latency_of_each_size_band(self) -> None:
        """A row per band with uploads, a mark for each of p50, p90, p99 and max."""
        page = render_report(a_run())
        latency = page.split('id="latency"')[1].split("</section>")[0]
        assert latency.count("<circle") == 4  # one band (< 64 KiB), four marks
        assert "&lt; 64 KiB p50: " in latency

    def test_labels_times_as_people_read_them(self) -> None:
        """Seconds since the start: minutes, hours, whole days."""
        assert [clock_label(s) for s in (0.5, 65, 7200, 86400 * 3, 86400 + 60)] == [
            "0.5s",
            "1:05",
            "2:00:00",
            "3d",
            "1d 0:01:00",
        ]

    @pytest.mark.parametrize(
        "records",
        [
            [],
            [Record(path="a", key="a")],
            [Record(path="a", key="a", status="uploaded", bytes=5)],
            [Record(path="a", key="a", status="skipped", ts=5.0)],
            [Record(path="a", key="a", status="uploaded", bytes=5, ts=5.0, seconds=0.0)],
        ],
        ids=["empty", "walk-output", "no-times", "skip-only", "zero-seconds"],
    )
    def test_renders_whatever_the_records_lack(self, records: list[Record]) -> None:
        """An empty run, walk's output, old records without times: a page, never a crash."""
        report = RunReport()
        for record in records:
            report.add(record, "-")
        ids = [attrs.get("id") for tag, attrs in tags_of(render_report(report)) if tag == "section"]
        assert ids == list(SECTIONS)


class TestWrite:
    """The file appears whole or not at all."""

    def test_writes_the_page(self, tmp_path: Path) -> None:
        """The page is written, readable by others like any file the user makes."""
        target = tmp_path / "run.html"
        write_report(target, a_run(), sources=("h1.ndjson", "h2.ndjson"))
        assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
        assert list(tmp_path.iterdir()) == [target]

    def test_a_name_that_is_not_utf8_is_written(self, tmp_path: Path) -> None:
        """A key decoded with surrogate escapes does not stop the report."""
        report = RunReport()
        key = "caf\udce9.txt"
        report.add(Record(path=key, key=key, status="failed", error="x: y", seconds=1.0), "-")
        target = tmp_path / "run.html"
        write_report(target, report)
        assert "caf" in target.read_text(encoding="utf-8")

    def test_leaves_nothing_when_it_cannot_write(self, tmp_path: Path) -> None:
        """A target that is a directory fails, and no temporary file is left."""
        target = tmp_path / "run.html"
        target.mkdir()
        with pytest.raises(OSError, match="directory"):
            write_report(target, a_run())
        assert list(tmp_path.iterdir()) == [target]
