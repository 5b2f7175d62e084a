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
    "PALETTE",
    "TOTAL_COLOUR",
    "ChartLine",
    "clock_label",
    "line_chart",
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


def _text(value: str) -> str:
    """Text for the SVG: controls shown as ``\\xNN``, markup escaped."""
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
            f'viewBox="0 0 {WIDTH} {HEIGHT}"><title>{_text(title)}</title>'
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
            f'<text x="{_LEFT - 6}" y="{y + 4}" text-anchor="end">{_text(y_label(value))}'
            "</text>"
        )
    step = _tick_step(span)
    for i in range(math.floor(span / step) + 1):
        x = x_at(start + i * step)
        parts.append(
            f'<line x1="{x}" y1="{_TOP + plot_h}" x2="{x}" y2="{_TOP + plot_h + 5}" '
            f'stroke="#888888"/><text x="{x}" y="{HEIGHT - 10}" text-anchor="middle">'
            f"{_text(clock_label(i * step))}</text>"
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
            f"<title>{_text(line.label)}</title></polyline>"
        )
    parts.append("</svg>")
    return "".join(parts)
