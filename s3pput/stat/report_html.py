"""The run report as one self-contained HTML page (``s3pput-stat --report run.html``).

Everything is in the file: styles inline, charts as inline SVG
(``report_svg``), no script, no font, no image, nothing fetched; a Content
Security Policy says so to the browser too, so even a name that slipped
through could not run. Every text taken from records (keys, paths, errors,
host names) is HTML-escaped, and its control characters made visible. The
numbers come from ``report_data.RunReport``; this module only lays them out.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import tempfile
from pathlib import Path
from typing import Final

from s3pput.stat.report_data import RunReport
from s3pput.stat.report_svg import (
    MARKS,
    PALETTE,
    TOTAL_COLOUR,
    ChartLine,
    clock_label,
    latency_chart,
    line_chart,
    markup_text,
    width_label,
)
from s3pput.stat.summary import human_bytes

__all__ = ["render_report", "write_report"]

_STYLE: Final = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#222;
max-width:1000px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:3px 10px;text-align:left;vertical-align:top}
th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}td.n{text-align:right;
font-variant-numeric:tabular-nums}
.key{font-family:ui-monospace,monospace;word-break:break-all}
.legend span{display:inline-block;margin-right:16px}
.swatch{display:inline-block;width:12px;height:12px;margin-right:5px;vertical-align:-1px}
.bar{display:inline-block;height:10px;background:#d62728}
.note{color:#666}svg text{font:11px sans-serif;fill:#555}
"""
_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'"


def _duration(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def _utc(epoch: float) -> str:
    try:
        when = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{epoch:.3f} (epoch seconds)"
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_report(report: RunReport, *, sources: tuple[str, ...] = ()) -> str:
    """The whole page for ``report``; ``sources`` are the input files, shown in the header."""
    body = [
        "<h1>s3pput run report</h1>",
        f'<p class="note">from {markup_text(", ".join(sources) or "stdin")}</p>',
        _summary(report),
        _throughput(report),
        _latency(report),
        _errors(report),
        _retries(report),
        _slowest(report),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>s3pput run report</title><style>{_STYLE}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _section(name: str, title: str, content: str) -> str:
    return f'<section id="{name}"><h2>{title}</h2>\n{content}\n</section>'


def _rows(rows: list[tuple[str, str]]) -> str:
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"


def _summary(report: RunReport) -> str:
    statuses = report.statuses
    rows = [("records", str(report.records))]
    rows += [(name, str(count)) for name, count in statuses.items()]
    if report.invalid:
        rows.append(("lines not records", str(report.invalid)))
    rows.append(("bytes uploaded", f"{human_bytes(report.bytes)} ({report.bytes} bytes)"))
    span = report.span
    if span is not None:
        seconds = span[1] - span[0]
        rows.append(("from", _utc(span[0])))
        rows.append(("to", f"{_utc(span[1])} ({clock_label(seconds)})"))
        if seconds > 0:
            rate = report.bytes / seconds
            files = statuses.get("uploaded", 0) / seconds
            rows.append(("average", f"{human_bytes(rate)}/s, {files:.1f} files/s"))
    retries, retried = report.retries
    rows.append(("retries", f"{retries} (in {retried} records)"))
    rows.append(("hosts", markup_text(", ".join(report.hosts()) or "-")))
    if report.untimed:
        rows.append(("without a time", f"{report.untimed} records (no ts: not on the charts)"))
    rows.extend(("stopped", markup_text(entry)) for entry in report.stopped)
    return _section("summary", "Summary", _rows(rows))


def _colours(report: RunReport) -> dict[str, str]:
    return {host: PALETTE[i % len(PALETTE)] for i, host in enumerate(report.hosts())}


def _chart(report: RunReport, metric: str, *, per_second: bool, title: str) -> tuple[str, str]:
    """A chart of ``metric`` per host (and their total when there are several); and its legend."""
    times = report.times
    bins = times.bins()
    scale = 1 / times.width_seconds if per_second else 1.0
    colours = _colours(report)
    lines = [
        ChartLine(
            label=host,
            colour=colours[host],
            steps=[(times.start_of(k), times.value(host, k, metric) * scale) for k in bins],
        )
        for host in colours
    ]
    if len(lines) > 1:
        total = [
            (when, sum(line.steps[i][1] for line in lines))
            for i, (when, _) in enumerate(lines[0].steps)
        ]
        # Underneath: the hosts' own lines stay visible where one host is the total.
        lines.insert(0, ChartLine(label="all hosts", colour=TOTAL_COLOUR, steps=total, dashed=True))
    y_label = (lambda v: f"{human_bytes(v)}/s") if metric == "bytes" else (lambda v: f"{v:g}")
    svg = line_chart(
        lines,
        start=times.start_of(bins.start),
        bin_width=times.width_seconds,
        bins=len(bins),
        y_label=y_label,
        title=title,
        binary=metric == "bytes",
    )
    legend = "".join(
        f'<span><i class="swatch" style="background:{line.colour}"></i>'
        f"{markup_text(line.label)}</span>"
        for line in lines
    )
    return svg, f'<p class="legend">{legend}</p>'


def _no_times() -> str:
    return '<p class="note">No record has a time (<code>ts</code>): nothing to draw over time.</p>'


def _throughput(report: RunReport) -> str:
    if not report.times.bins():
        return _section("throughput", "Throughput over time", _no_times())
    width = width_label(report.times.width_seconds)
    parts = []
    for metric, title in (("bytes", "bytes per second"), ("files", "files uploaded per second")):
        svg, legend = _chart(report, metric, per_second=True, title=title)
        parts.append(f"<h3>{title}</h3>{svg}{legend}")
    note = f'<p class="note">Averaged over bins of {width}; bytes spread over each upload.</p>'
    return _section("throughput", "Throughput over time", "\n".join(parts) + note)


def _retries(report: RunReport) -> str:
    retries, retried = report.retries
    if not report.times.bins():
        return _section("retries", "Retries over time", _no_times())
    width = width_label(report.times.width_seconds)
    svg, legend = _chart(report, "retries", per_second=False, title=f"retries per {width}")
    note = f'<p class="note">{retries} retries in {retried} records, counted when each ended.</p>'
    return _section("retries", "Retries over time", svg + legend + note)


def _latency(report: RunReport) -> str:
    bands = report.latency()
    if not bands:
        note = '<p class="note">No uploaded record has a duration (<code>seconds</code>).</p>'
        return _section("latency", "Upload latency by size", note)
    head = "<tr><th>size</th><th>uploads</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>"
    rows = "".join(
        f"<tr><td>{html.escape(b.band)}</td><td class=n>{b.latency.count}</td>"
        + "".join(
            f"<td class=n>{_duration(v)}</td>"
            for v in (b.latency.p50, b.latency.p90, b.latency.p99, b.latency.max)
        )
        + "</tr>"
        for b in bands
    )
    svg = latency_chart(
        [(b.band, (b.latency.p50, b.latency.p90, b.latency.p99, b.latency.max)) for b in bands],
        _duration,
    )
    legend = "".join(
        f'<span><i class="swatch" style="background:{colour}"></i>{name}</span>'
        for name, colour in MARKS
    )
    note = '<p class="note">Percentiles within 5 %, from a log-scale histogram; max is exact.</p>'
    return _section(
        "latency",
        "Upload latency by size",
        f'<table>{head}{rows}</table>{svg}<p class="legend">{legend}</p>{note}',
    )


def _errors(report: RunReport) -> str:
    kinds = report.errors()
    if not kinds:
        return _section("errors", "Errors by kind", '<p class="note">No errors.</p>')
    most = kinds[0].count
    head = "<tr><th>kind</th><th>count</th><th></th><th>first seen</th></tr>"
    rows = "".join(
        f"<tr><td>{markup_text(k.kind)}</td><td class=n>{k.count}</td>"
        f'<td><i class="bar" style="width:{max(1, round(150 * k.count / most))}px"></i></td>'
        f'<td><span class="key">{markup_text(k.where)}</span>: {markup_text(k.example)}</td></tr>'
        for k in kinds
    )
    return _section("errors", "Errors by kind", f"<table>{head}{rows}</table>")


def _slowest(report: RunReport) -> str:
    slow = report.slowest()
    if not slow:
        note = '<p class="note">No record has a duration (<code>seconds</code>).</p>'
        return _section("slowest", "Slowest records", note)
    head = (
        "<tr><th>seconds</th><th>key</th><th>size</th><th>status</th><th>attempts</th>"
        "<th>host</th></tr>"
    )
    rows = "".join(
        f"<tr><td class=n>{s.seconds:.3f}</td><td class=key>{markup_text(s.where)}</td>"
        f"<td class=n>{'-' if s.size is None else human_bytes(s.size)}</td>"
        f"<td>{markup_text(s.status)}</td>"
        f"<td class=n>{'-' if s.attempts is None else s.attempts}</td>"
        f"<td>{markup_text(s.host)}</td></tr>"
        for s in slow
    )
    return _section("slowest", "Slowest records", f"<table>{head}{rows}</table>")


def write_report(path: Path, report: RunReport, *, sources: tuple[str, ...] = ()) -> None:
    """Write the page to ``path`` whole or not at all (a temporary file, then a rename).

    Raises OSError when the file cannot be written; no half report is left behind.
    """
    data = render_report(report, sources=sources).encode("utf-8", "backslashreplace")
    directory = path.parent
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        Path(temporary).chmod(0o644 & ~_umask())
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
