"""Line charts as inline SVG text: axes, ticks and one stepped line per host.

The run report must draw without a network and without a script, so its
charts are SVG written here as strings. Binned data is drawn as steps (a
bin's value held across its width), on whole pixels with crisp edges, so a
bin is as wide as it is and a line's colour is exactly its colour. Every
text that reaches the SVG is HTML-escaped here. This module knows charts,
not records.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from s3pput.printable import escape_controls

__all__ = [
    "MARKS",
    "PALETTE",
    "TOTAL_COLOUR",
    "ChartLine",
    "clock_label",
    "latency_chart",
    "line_chart",
    "markup_text",
    "nice_bytes_ceiling",
    "nice_ceiling",
    "width_label",
]

PALETTE: Final = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#393b79",
    "#637939",
    "#843c39",
)
"""One colour per host, distinct on white (matplotlib's tab10, then three darker ones)."""
TOTAL_COLOUR: Final = "#222222"

WIDTH: Final = 960
HEIGHT: Final = 240
_LEFT: Final = 80
_RIGHT: Final = 16
_TOP: Final = 12
_BOTTOM: Final = 30
_Y_TICKS: Final = 4
_KIBI: Final = 1024
_MAX_X_TICKS: Final = 10
_TICK_STEPS: Final = (
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14400,
    21600,
    43200,
    86400,
)
"""Seconds between time ticks people count in; past a day, whole days."""


@dataclass(frozen=True)
class ChartLine:
    """One line: a name for the legend, a colour, and a value per bin (``(start, value)``)."""

    label: str
    colour: str
    steps: Sequence[tuple[float, float]]
    dashed: bool = False


def markup_text(value: str) -> str:
    """Text for HTML or SVG: controls shown as ``\\xNN``, markup escaped."""
    return html.escape(escape_controls(value))


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (1 for 0)."""
    if not value > 0 or math.isinf(value):
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= value:
            return factor * power
    return 10 * power  # pragma: no cover  # the loop ends at 10


def nice_bytes_ceiling(value: float) -> float:
    """``nice_ceiling`` in binary units: 1, 2, 2.5 or 5 (times 10s) KiB, MiB...: ticks read well."""
    unit = 1.0
    while value >= _KIBI * unit:
        unit *= _KIBI
    nice = nice_ceiling(value / unit)
    return unit * (_KIBI if nice >= 1000 else nice)  # noqa: PLR2004  # 1000 KiB reads as 1 MiB


def width_label(seconds: float) -> str:
    """A bin width as people say it: ``0.1 s``, ``10 s``, ``2 min``, ``6 h``, ``1 d``."""
    for unit, name in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= unit and seconds % unit == 0:
            return f"{seconds / unit:g} {name}"
    return f"{seconds:g} s"


def clock_label(seconds: float) -> str:
    """Seconds since the start as a clock reads: ``0.5s``, ``1:05``, ``2:00:00``, ``3d 4:00``."""
    if seconds < 1 and seconds != 0:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days and not rest:
        return f"{days}d"
    clock = f"{hours}:{minutes:02d}:{secs:02d}" if hours or days else f"{minutes}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def _tick_step(span: float) -> float:
    for step in _TICK_STEPS:
        if span / step <= _MAX_X_TICKS:
            return step
    return 86400 * math.ceil(span / 86400 / _MAX_X_TICKS)


def line_chart(  # noqa: PLR0913  # a chart's parts, each named at the call
    lines: Sequence[ChartLine],
    *,
    start: float,
    bin_width: float,
    bins: int,
    y_label: Callable[[float], str],
    title: str,
    binary: bool = False,
) -> str:
    """An SVG chart of ``bins`` bins from the epoch second ``start``; x is shown from 0.

    ``binary`` rounds the y axis to binary units (for bytes). Lines are drawn in
    order, so the first is underneath.
    """
    span = max(bins, 1) * bin_width
    highest = max((value for line in lines for _, value in line.steps), default=0.0)
    top = nice_bytes_ceiling(highest) if binary else nice_ceiling(highest)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM

    def x_at(when: float) -> int:
        return _LEFT + round((when - start) / span * plot_w)

    def y_at(value: float) -> int:
        return _TOP + plot_h - round(value / top * plot_h)

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}"><title>{markup_text(title)}</title>'
        ),
        (
            f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" '
            'stroke="#cccccc"/>'
        ),
    ]
    for i in range(_Y_TICKS + 1):
        value = top * i / _Y_TICKS
        y = y_at(value)
        parts.append(
            f'<line x1="{_LEFT}" y1="{y}" x2="{WIDTH - _RIGHT}" y2="{y}" stroke="#e4e4e4"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4}" text-anchor="end">{markup_text(y_label(value))}'
            "</text>"
        )
    step = _tick_step(span)
    for i in range(math.floor(span / step) + 1):
        x = x_at(start + i * step)
        parts.append(
            f'<line x1="{x}" y1="{_TOP + plot_h}" x2="{x}" y2="{_TOP + plot_h + 5}" '
            f'stroke="#888888"/><text x="{x}" y="{HEIGHT - 10}" text-anchor="middle">'
            f"{markup_text(clock_label(i * step))}</text>"
        )
    for line in lines:
        # From the baseline and back to it: a single bin is drawn as a bar, not a floating dash.
        points = [f"{_LEFT},{y_at(0)}"]
        for when, value in line.steps:
            y = y_at(value)
            points.extend((f"{x_at(when)},{y}", f"{x_at(when + bin_width)},{y}"))
        points.append(f"{x_at(start + span)},{y_at(0)}")
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(
            f'<polyline fill="none" stroke="{line.colour}" stroke-width="2"{dash} '
            f'shape-rendering="crispEdges" points="{" ".join(points)}">'
            f"<title>{markup_text(line.label)}</title></polyline>"
        )
    parts.append("</svg>")
    return "".join(parts)


MARKS: Final = (("p50", "#1f77b4"), ("p90", "#ff7f0e"), ("p99", "#d62728"), ("max", "#222222"))
"""The latency chart's marks, in the order of the values each row gives."""
_ROW: Final = 30
_NAME_WIDTH: Final = 120
_SHORTEST: Final = 1e-4
"""The left end of the log axis at its lowest: 0.1 ms (the histogram's first bucket)."""


def latency_chart(
    rows: Sequence[tuple[str, Sequence[float]]], duration: Callable[[float], str]
) -> str:
    """A row per size band: a line from p50 to max on a log axis, a mark at each percentile.

    ``rows`` are ``(band, (p50, p90, p99, max))`` in seconds; ``duration`` labels the axis.
    """
    values = [max(v, _SHORTEST) for _, marks in rows for v in marks if not math.isnan(v)]
    low = 10.0 ** math.floor(math.log10(min(values, default=1.0)))
    high = 10.0 ** math.ceil(math.log10(max(values, default=1.0)))
    high = max(high, low * 10)
    height = _TOP + _ROW * len(rows) + _BOTTOM
    left, right = _NAME_WIDTH, WIDTH - _RIGHT

    def x_at(seconds: float) -> int:
        share = math.log10(max(seconds, low) / low) / math.log10(high / low)
        return left + round(share * (right - left))

    parts = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}"><title>upload latency by size</title>'
            f'<rect x="{left}" y="{_TOP}" width="{right - left}" height="{_ROW * len(rows)}" '
            'fill="#fafafa" stroke="#cccccc"/>'
        )
    ]
    decade = low
    while decade <= high * 1.001:
        x = x_at(decade)
        parts.append(
            f'<line x1="{x}" y1="{_TOP}" x2="{x}" y2="{_TOP + _ROW * len(rows) + 5}" '
            f'stroke="#e4e4e4"/><text x="{x}" y="{height - 10}" text-anchor="middle">'
            f"{_decade_label(decade)}</text>"
        )
        decade *= 10
    for i, (band, marks) in enumerate(rows):
        y = _TOP + _ROW * i + _ROW // 2
        parts.append(
            f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{markup_text(band)}</text>'
            f'<line x1="{x_at(marks[0])}" y1="{y}" x2="{x_at(marks[-1])}" y2="{y}" '
            'stroke="#999999" stroke-width="2"/>'
        )
        parts.extend(
            f'<circle cx="{x_at(value)}" cy="{y}" r="5" fill="{colour}">'
            f"<title>{markup_text(f'{band} {name}: {duration(value)}')}</title></circle>"
            for (name, colour), value in zip(MARKS, marks, strict=True)
            if not math.isnan(value)
        )
    parts.append("</svg>")
    return "".join(parts)


def _decade_label(seconds: float) -> str:
    """A power of ten of seconds as the axis shows it: ``100 us``, ``10 ms``, ``1 s``, ``100 s``."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms")):
        if seconds >= scale * 0.999:
            return f"{seconds / scale:.0f} {unit}"
    return f"{seconds / 1e-6:.0f} us"
