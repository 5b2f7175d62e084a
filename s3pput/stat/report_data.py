"""The run report's numbers, gathered record by record in bounded memory.

``RunReport.add`` takes each result as stat reads it and keeps only sums:
time bins per host (``report_stats.TimeSeries``), a latency histogram per
size band, counts per error kind, and a heap of the slowest records. So a
report of ten million records costs what a report of ten does. Records
without ``ts`` or ``seconds`` (old outputs, walk's failures) still count
where they can. The host a record belongs to is its ``host`` field when it
has one (``jq -c '. + {host: "h1"}'``), else the input file it came from.
This module turns records into numbers; ``report_html`` draws them.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from s3pput.records import Record, is_total, one_line
from s3pput.stat.report_stats import LatencyHistogram, Percentiles, TimeSeries
from s3pput.stat.summary import DEFAULT_MAX_ERRORS, Tally, is_stop, where
from s3pput.units import KiB, MiB

__all__ = [
    "SIZE_BANDS",
    "BandLatency",
    "ErrorKind",
    "ReportingTally",
    "RunReport",
    "SlowRecord",
    "error_kind",
]

HOST_FIELD: Final = "host"
"""A record field naming the machine it came from; without it, the input file names it."""
STDIN_HOST: Final = "stdin"
MAX_HOSTS: Final = 12
"""Lines a chart can tell apart; later hosts are drawn together as ``OTHER_HOSTS``."""
OTHER_HOSTS: Final = "other hosts"
MAX_KINDS: Final = 40
"""Error kinds kept apart; later kinds are counted together as ``OTHER_KIND``."""
OTHER_KIND: Final = "other errors"
SLOWEST: Final = 20
MAX_STOPS: Final = 10
"""Stop records listed; a stage stops once, so more is a merge of many runs (or hostile)."""
MAX_BINS: Final = 120
"""Time bins on a chart: 240 made a 40 s run of 0.2 s bins too spiky to read; 120 gives 1 s."""

SIZE_BANDS: Final = (
    ("< 64 KiB", 64 * KiB),
    ("64 KiB - 1 MiB", MiB),
    ("1 - 16 MiB", 16 * MiB),
    ("16 - 256 MiB", 256 * MiB),
    (">= 256 MiB", math.inf),
)
"""Latency is reported per band of file size: a 1 GiB file is not slow beside a 1 KiB one."""
UNKNOWN_SIZE: Final = "size unknown"
_LIMITS: Final = [limit for _, limit in SIZE_BANDS[:-1]]
_BAND_NAMES: Final = [name for name, _ in SIZE_BANDS]

METRICS: Final = ("bytes", "files", "retries", "failed")
"""What the time bins sum: bytes sent, files uploaded, retries, failed records."""

_OPERATION_CODE: Final = re.compile(r"([A-Z][A-Za-z0-9]+): ([A-Za-z][A-Za-z0-9_.]*)")
"""``PutObject: NoSuchBucket The specified ...`` and ``UploadPart: AWS_ERROR_UNKNOWN: ...``."""
_LINE_PREFIX: Final = re.compile(r"line \d+: ")
_KIND_WORDS: Final = 5
_KIND_CHARS: Final = 60


def error_kind(error: str) -> str:
    """The kind of an ``error`` line: ``Operation: Code`` for S3's, its first words otherwise.

    ``PutObject: SlowDown Please reduce ...`` is ``PutObject: SlowDown``; an
    OS or s3pput error is the text before its first ``:`` or `` (`` (the part
    that names no file): ``No such file or directory``, ``duplicate key``.
    """
    text = one_line(error)
    text = _LINE_PREFIX.sub("", text, count=1)
    match = _OPERATION_CODE.match(text)
    if match:
        return f"{match.group(1)}: {match.group(2)}"
    head = re.split(r": | \(", text, maxsplit=1)[0]
    words = head.split()
    kind = " ".join(words[:_KIND_WORDS]) + (" ..." if len(words) > _KIND_WORDS else "")
    return kind[:_KIND_CHARS] or "no error message"


@dataclass(frozen=True)
class ErrorKind:
    """How often one kind of error happened, with one example to look it up by."""

    kind: str
    count: int
    example: str
    where: str


@dataclass(frozen=True)
class SlowRecord:
    """One of the slowest records: what it was, how big and how long it took."""

    seconds: float
    where: str
    status: str
    size: int | None
    host: str
    attempts: int | None


@dataclass(frozen=True)
class BandLatency:
    """The latency of the uploads in one size band."""

    band: str
    latency: Percentiles


@dataclass
class _Counts:
    statuses: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    invalid: int = 0
    untimed: int = 0
    retries: int = 0
    retried_records: int = 0
    first: float = math.inf
    last: float = -math.inf


class RunReport:
    """Everything the report shows, summed as records arrive; ``source`` names their host."""

    def __init__(self, *, max_bins: int = MAX_BINS) -> None:
        self.times = TimeSeries(METRICS, max_bins=max_bins)
        self._counts = _Counts()
        self._hosts: dict[str, None] = {}
        """The first ``MAX_HOSTS`` host names, each a line of its own."""
        self._lines: list[str] = []
        """The charts' lines in the order they appeared: those hosts, then ``OTHER_HOSTS``."""
        self._bands: dict[str, LatencyHistogram] = {}
        self._kinds: Counter[str] = Counter()
        self._examples: dict[str, tuple[str, str]] = {}
        self._slowest: list[tuple[float, int, SlowRecord]] = []
        self._order = itertools.count()
        self.stopped: list[str] = []
        """What the stop records said (``stage: error``), the first ``MAX_STOPS`` of them."""
        self._stops = 0

    def add(self, record: Record, source: str) -> None:
        """Count one record read from ``source`` (an input file, or ``-`` for stdin)."""
        if is_total(record):
            return
        if is_stop(record):
            self._stop(record)
            return
        host = self._host(record, source)
        status = record.status or "pending"
        counts = self._counts
        counts.statuses[status] += 1
        retries = max((record.attempts or 0) - 1, 0)
        counts.retries += retries
        counts.retried_records += retries > 0
        if status == "uploaded":
            counts.bytes += record.bytes or 0
            if record.seconds is not None:
                self._band(record).add(record.seconds)
        if status == "failed":
            self._error(record.error or "", _where(record))
        if record.seconds is not None:
            self._remember_slow(record, host)
        if record.ts is None:
            counts.untimed += 1
            return
        self._place(record, host, status, retries)

    def _stop(self, record: Record) -> None:
        self._stops += 1
        if self._stops <= MAX_STOPS:
            self.stopped.append(f"{record.stage or 'a stage'}: {one_line(record.error or '')}")
        else:
            self.stopped[MAX_STOPS:] = [f"and {self._stops - MAX_STOPS} more stops"]

    def add_invalid(self, error: str, where: str) -> None:
        """Count a line that is not a record, as an error of its own kind."""
        self._counts.invalid += 1
        self._error(f"not a record: {error}", where)

    def _place(self, record: Record, host: str, status: str, retries: int) -> None:
        """Put a timed record into the time bins: bytes over its duration, the rest at its end."""
        ts = record.ts or 0.0
        start = ts - max(record.seconds or 0.0, 0.0)
        counts = self._counts
        counts.first, counts.last = min(counts.first, start), max(counts.last, ts)
        self.times.cover(start, ts)  # a run of skips has a time axis too, its lines at zero
        if status == "uploaded":
            self.times.spread(host, start, ts, "bytes", record.bytes or 0)
            self.times.add(host, ts, "files", 1)
        if retries:
            self.times.add(host, ts, "retries", retries)
        if status == "failed":
            self.times.add(host, ts, "failed", 1)

    def _host(self, record: Record, source: str) -> str:
        name = record.extra.get(HOST_FIELD)
        if not isinstance(name, str) or not name:
            name = STDIN_HOST if source == "-" else source
        if name in self._hosts:
            return name
        if len(self._hosts) < MAX_HOSTS:
            self._hosts[name] = None
            self._lines.append(name)
            return name
        # Past the limit nothing is remembered per name: a host per record costs nothing.
        if self._lines[-1] != OTHER_HOSTS:
            self._lines.append(OTHER_HOSTS)
        return OTHER_HOSTS

    def _band(self, record: Record) -> LatencyHistogram:
        size = record.size if record.size is not None else record.bytes
        band = UNKNOWN_SIZE if size is None else _BAND_NAMES[bisect.bisect_right(_LIMITS, size)]
        histogram = self._bands.get(band)
        if histogram is None:
            histogram = self._bands[band] = LatencyHistogram()
        return histogram

    def _error(self, error: str, where: str) -> None:
        kind = error_kind(error)
        if kind not in self._kinds and len(self._kinds) >= MAX_KINDS:
            kind = OTHER_KIND
        self._kinds[kind] += 1
        self._examples.setdefault(kind, (one_line(error), where))

    def _remember_slow(self, record: Record, host: str) -> None:
        seconds = record.seconds or 0.0
        if len(self._slowest) >= SLOWEST and seconds <= self._slowest[0][0]:
            return
        entry = SlowRecord(
            seconds=seconds,
            where=_where(record),
            status=record.status or "pending",
            size=record.size if record.size is not None else record.bytes,
            host=host,
            attempts=record.attempts,
        )
        item = (seconds, next(self._order), entry)
        if len(self._slowest) < SLOWEST:
            heapq.heappush(self._slowest, item)
        else:
            heapq.heapreplace(self._slowest, item)

    @property
    def statuses(self) -> dict[str, int]:
        """Records per status (``pending`` for records put has not seen)."""
        return dict(self._counts.statuses)

    @property
    def records(self) -> int:
        """Records counted (not total records, stop records or invalid lines)."""
        return sum(self._counts.statuses.values())

    @property
    def bytes(self) -> int:
        """Bytes of the uploaded records."""
        return self._counts.bytes

    @property
    def invalid(self) -> int:
        """Lines that were not records."""
        return self._counts.invalid

    @property
    def untimed(self) -> int:
        """Records without a ``ts``: counted, but on no chart over time."""
        return self._counts.untimed

    @property
    def retries(self) -> tuple[int, int]:
        """Retries in all, and the records that needed at least one."""
        return self._counts.retries, self._counts.retried_records

    @property
    def span(self) -> tuple[float, float] | None:
        """The first start and the last end among timed records; None without any."""
        if self._counts.first > self._counts.last:
            return None
        return self._counts.first, self._counts.last

    def hosts(self) -> list[str]:
        """The hosts (lines on the charts), in the order they were first read."""
        return list(self._lines)

    def latency(self) -> list[BandLatency]:
        """Upload latency per size band, smallest band first; bands without uploads left out."""
        order = [name for name, _ in SIZE_BANDS] + [UNKNOWN_SIZE]
        return [
            BandLatency(band=name, latency=self._bands[name].percentiles())
            for name in order
            if name in self._bands
        ]

    def errors(self) -> list[ErrorKind]:
        """Error kinds, most frequent first, each with its first example."""
        return [
            ErrorKind(kind=kind, count=count, example=self._examples[kind][0], where=where)
            for kind, count in self._kinds.most_common()
            for where in (self._examples[kind][1],)
        ]

    def slowest(self) -> list[SlowRecord]:
        """The slowest records, slowest first."""
        return [entry for _, _, entry in sorted(self._slowest, reverse=True)]


def _where(record: Record) -> str:
    """Name a record the way a user would look for it (as stat's first errors do)."""
    return where(record.key, record.path, record.line)


class ReportingTally(Tally):
    """A ``Tally`` that also hands every record to a ``RunReport``, naming its input file.

    stat reads its inputs one after another: the caller sets ``source`` before each.
    """

    def __init__(
        self, report: RunReport, *, started: float, max_errors: int = DEFAULT_MAX_ERRORS
    ) -> None:
        super().__init__(started=started, max_errors=max_errors)
        self.report = report
        self.source = "-"

    def add(self, record: Record) -> None:
        """Count the record for the summary and for the report."""
        super().add(record)
        self.report.add(record, self.source)

    def add_invalid(self, line: int, error: str, source: str | None = None) -> None:
        """Count a line that is not a record, for both."""
        super().add_invalid(line, error, source=source)
        self.report.add_invalid(error, f"{source}:{line}" if source else f"line {line}")
