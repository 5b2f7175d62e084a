"""Bounded summaries for the run report: sums over time bins, and a latency histogram.

A report may be made of millions of records, so nothing here keeps one per
record. ``TimeSeries`` sums values into time bins whose width grows (and
whose bins merge) whenever the data would need more than ``max_bins`` of
them; ``LatencyHistogram`` counts durations in fixed log-scale buckets, from
which percentiles are read to within a few per cent. This module knows
numbers only: not records, not HTML.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["BIN_WIDTHS_MS", "LatencyHistogram", "TimeSeries"]

BIN_WIDTHS_MS: Final = (
    100,
    200,
    1_000,
    2_000,
    10_000,
    20_000,
    60_000,
    120_000,
    600_000,
    1_200_000,
    3_600_000,
    7_200_000,
    21_600_000,
    86_400_000,
)
"""Bin widths a chart reads well in (0.1 s ... 1 day), each a multiple of the one before,
so bins merge exactly when the width grows; past a day it doubles."""

_MS: Final = 1000


def _next_width(width: int) -> int:
    """The bin width after ``width``: the next nice one, or twice it."""
    for candidate in BIN_WIDTHS_MS:
        if candidate > width:
            return candidate
    return width * 2


class TimeSeries:
    """Per-series sums of ``metrics`` values over time bins, at most ``max_bins`` bins wide.

    Times are epoch seconds. A bin is ``[k * width, (k + 1) * width)`` in
    milliseconds, so bins of every width line up and merge without loss.
    """

    def __init__(self, metrics: Sequence[str], *, max_bins: int = 240) -> None:
        if max_bins < 2:  # noqa: PLR2004  # two bins is the least a line needs
            raise ValueError("max_bins must be at least 2")
        self.metrics = tuple(metrics)
        self._index = {name: i for i, name in enumerate(self.metrics)}
        self.max_bins = max_bins
        self.width_ms = BIN_WIDTHS_MS[0]
        self._bins: dict[tuple[str, int], list[float]] = {}
        self._low: int | None = None
        self._high: int | None = None

    @property
    def width_seconds(self) -> float:
        """The width of one bin in seconds."""
        return self.width_ms / _MS

    def cover(self, start: float, end: float) -> None:
        """Make the time axis reach over ``[start, end]`` without adding a value (a skip's time)."""
        self._cover(start, end)

    def add(self, series: str, when: float, metric: str, amount: float) -> None:
        """Add ``amount`` of ``metric`` at the instant ``when``."""
        self._cover(when, when)
        self._sum(series, self._bin(when), metric, amount)

    def spread(self, series: str, start: float, end: float, metric: str, amount: float) -> None:
        """Add ``amount`` spread evenly over ``[start, end]``: bytes sent over an upload's time."""
        if not end > start:
            self.add(series, end, metric, amount)
            return
        self._cover(start, end)
        first, last = self._bin(start), self._bin(end)
        width = self.width_seconds
        for k in range(first, last + 1):
            overlap = min(end, (k + 1) * width) - max(start, k * width)
            if overlap > 0:
                self._sum(series, k, metric, amount * overlap / (end - start))

    def series(self) -> list[str]:
        """The series' names, in the order they first got a value."""
        return list(dict.fromkeys(name for name, _ in self._bins))

    def bins(self) -> range:
        """Every bin index from the first to the last that holds a value (empty if none)."""
        if self._low is None or self._high is None:
            return range(0)
        return range(self._low, self._high + 1)

    def value(self, series: str, k: int, metric: str) -> float:
        """The sum of ``metric`` in bin ``k`` of ``series`` (0 where nothing was added)."""
        values = self._bins.get((series, k))
        return 0.0 if values is None else values[self._index[metric]]

    def start_of(self, k: int) -> float:
        """The epoch second bin ``k`` starts at."""
        return k * self.width_ms / _MS

    def _bin(self, when: float) -> int:
        return math.floor(when * _MS) // self.width_ms

    def _sum(self, series: str, k: int, metric: str, amount: float) -> None:
        values = self._bins.get((series, k))
        if values is None:
            values = self._bins[series, k] = [0.0] * len(self.metrics)
        values[self._index[metric]] += amount

    def _cover(self, start: float, end: float) -> None:
        """Make the bins wide enough that ``[start, end]`` and what is held fit ``max_bins``."""
        low_ms, high_ms = math.floor(start * _MS), math.floor(end * _MS)
        if self._low is not None and self._high is not None:  # the common case, made cheap
            low = min(self._low, low_ms // self.width_ms)
            high = max(self._high, high_ms // self.width_ms)
            if high - low < self.max_bins:
                self._low, self._high = low, high
                return
        if self._low is not None and self._high is not None:
            low_ms = min(low_ms, self._low * self.width_ms)
            high_ms = max(high_ms, self._high * self.width_ms)
        width = self.width_ms
        while high_ms // width - low_ms // width + 1 > self.max_bins:
            width = _next_width(width)
        if width != self.width_ms:
            self._regroup(width)
        self._low, self._high = low_ms // width, high_ms // width

    def _regroup(self, width: int) -> None:
        """Merge the bins into wider ones; ``width`` is a multiple of the current width."""
        merged: dict[tuple[str, int], list[float]] = {}
        for (name, k), values in self._bins.items():
            target = merged.setdefault((name, k * self.width_ms // width), [0.0] * len(values))
            for i, value in enumerate(values):
                target[i] += value
        self._bins = merged
        self.width_ms = width


BUCKETS_PER_OCTAVE: Final = 8
"""Buckets per doubling: a value read back is within 2**(1/16) - 1, about 4.4 %, of the truth."""
SMALLEST: Final = 1e-4
"""Durations at or below this (0.1 ms) share the first bucket."""
OCTAVES: Final = 32
"""From 0.1 ms to about 119 hours; longer ones share the last bucket (the maximum stays exact)."""


@dataclass(frozen=True)
class Percentiles:
    """What the report shows of one histogram: a count and the usual percentiles, in seconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float


class LatencyHistogram:
    """Counts of durations in fixed log-scale buckets, with the exact minimum and maximum."""

    def __init__(self) -> None:
        self._counts = [0] * (OCTAVES * BUCKETS_PER_OCTAVE + 1)
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    def add(self, seconds: float) -> None:
        """Count one duration (a negative one counts as zero)."""
        seconds = max(seconds, 0.0)
        self._counts[_bucket(seconds)] += 1
        self.count += 1
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    def quantile(self, share: float) -> float:
        """The duration ``share`` (0..1) of the counted ones are at or under; NaN if none."""
        if self.count == 0:
            return math.nan
        rank = max(1, math.ceil(share * self.count))
        if rank >= self.count:
            return self.max
        seen = 0
        for bucket, count in enumerate(self._counts):
            seen += count
            if seen >= rank:
                if bucket == len(self._counts) - 1:  # beyond the last bound: no middle
                    return self.max
                return min(max(_middle(bucket), self.min), self.max)
        return self.max  # pragma: no cover  # the counts add up to self.count

    def percentiles(self) -> Percentiles:
        """p50, p90, p99 and the maximum."""
        return Percentiles(
            count=self.count,
            p50=self.quantile(0.5),
            p90=self.quantile(0.9),
            p99=self.quantile(0.99),
            max=self.max if self.count else math.nan,
        )

    def __iter__(self) -> Iterator[int]:
        """The bucket counts, smallest durations first."""
        return iter(self._counts)


def _bucket(seconds: float) -> int:
    if seconds <= SMALLEST:
        return 0
    index = 1 + math.floor(math.log2(seconds / SMALLEST) * BUCKETS_PER_OCTAVE)
    return min(index, OCTAVES * BUCKETS_PER_OCTAVE)


def _middle(bucket: int) -> float:
    """The geometric middle of a bucket: the value it stands for."""
    if bucket == 0:
        return SMALLEST
    return SMALLEST * 2 ** ((bucket - 0.5) / BUCKETS_PER_OCTAVE)
