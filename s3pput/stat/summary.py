"""Summing up put results: counts, bytes, rates and the first errors.

Time comes from the records themselves (``ts`` and ``seconds``) so that a
replayed ``run.ndjson`` or runs merged from several hosts report the time the
uploads took, not the time it took to read them. Nothing here touches
stdout or stderr: the CLI gets text back and decides where it goes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

from s3pput.printable import escape_controls
from s3pput.records import STATUSES, WALK_STAGE, Record, is_total, one_line

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "INTERRUPTED",
    "PROGRESS_INTERVAL",
    "STAGE",
    "ErrorEntry",
    "Summary",
    "Tally",
    "format_summary",
    "human_bytes",
    "is_stop",
    "summary_to_json",
]

DEFAULT_MAX_ERRORS: Final = 10
PROGRESS_INTERVAL: Final = 0.25
"""Seconds between progress refreshes: lively, yet cheap on a fast pipe."""

STAGE: Final = "stat"
PENDING: Final = "pending"
"""What a record without a status is: walk output that no put has seen yet."""

INTERRUPTED: Final = "interrupted"
"""The error of a record put answered for without finishing it, because the run was stopped
(Ctrl-C): in flight, or not yet started (docs/records.md)."""

COUNTED: Final = (*STATUSES, PENDING, "invalid")
"""Every count the summary shows, in the order it shows them."""

MIN_SPAN: Final = 1e-6
"""The shortest run that has rates: put times records to the microsecond, and a count
divided by a shorter span (two ``ts`` a denormal apart) overflows to infinity."""

_UNITS: Final = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
_KIBI: Final = 1024


@dataclass(frozen=True)
class ErrorEntry:
    """One failed record or invalid line, with just enough to find it again."""

    error: str
    stage: str | None = None
    key: str | None = None
    path: str | None = None
    line: int | None = None
    source: str | None = None
    """The input file an invalid line came from; None for stdin and for records."""

    @property
    def where(self) -> str:
        """Name the failure the way a user would look for it: key, then path, then line."""
        if self.key is not None:
            return self.key
        if self.path is not None:
            return self.path
        if self.line is not None:
            return f"{self.source}:{self.line}" if self.source else f"line {self.line}"
        return "(unnamed record)"


@dataclass(frozen=True)
class Summary:
    """What a run did; ``seconds`` is the span the records cover, rates derive from it."""

    uploaded: int = 0
    skipped: int = 0
    failed: int = 0
    planned: int = 0
    pending: int = 0
    invalid: int = 0
    bytes: int = 0
    seconds: float = 0.0
    errors: tuple[ErrorEntry, ...] = ()
    total_files: int | None = None
    """Files the run will have, when walk counted them (``--count``); None if unknown."""
    total_bytes: int | None = None
    walk_failed: int = 0
    """Failed records from walk itself: results, yet not among the files it counted."""
    stopped: tuple[ErrorEntry, ...] = ()
    """Stages that stopped before their end (a stop record each): the counts are partial."""
    interrupted: int = 0
    """Failed records put answered "interrupted" (stopped in flight or before they started):
    among ``failed``, and not failures of the files themselves."""
    counting: bool = False
    """``total_files`` is a count still under way (the one command counts ahead): no ETA yet."""

    @property
    def records(self) -> int:
        """Valid records read; invalid lines are not records."""
        return self.uploaded + self.skipped + self.failed + self.planned + self.pending

    @property
    def error_count(self) -> int:
        """Everything that went wrong: failed records plus invalid lines."""
        return self.failed + self.invalid

    @property
    def missing(self) -> int | None:
        """Files walk counted that have no record here; None when no total was read.

        Records lost on the way (a host that died in a multi-host run, a
        filter between walk and put) show up here, not in ``failed``.
        """
        if self.total_files is None:
            return None
        return max(0, self.total_files - (self.records - self.walk_failed))

    @property
    def ok(self) -> bool:
        """True when nothing failed, no line was bad, none is missing and no stage stopped."""
        return self.error_count == 0 and not self.missing and not self.stopped

    @property
    def bytes_per_second(self) -> float:
        """Bytes uploaded per second of the run, 0 when the run took no time."""
        return self.bytes / self.seconds if self.seconds >= MIN_SPAN else 0.0

    @property
    def files_per_second(self) -> float:
        """Files uploaded per second of the run, 0 when the run took no time."""
        return self.uploaded / self.seconds if self.seconds >= MIN_SPAN else 0.0

    @property
    def files_done(self) -> int:
        """Records of the files walk counts: all but walk's own failures, which it does not."""
        return self.records - self.walk_failed

    @property
    def eta(self) -> float | None:
        """Seconds until every counted file has a result, at the pace so far; None if unknown."""
        done = self.files_done
        if self.total_files is None or self.counting or self.seconds <= 0 or done <= 0:
            return None
        return max(0, self.total_files - done) * self.seconds / done


class Tally:
    """Counts records one at a time, so a live progress line costs nothing extra.

    ``started`` is a clock reading taken before the first line; it only
    matters when no record carries a ``ts`` and the time read is all we have.
    """

    def __init__(self, *, started: float, max_errors: int = DEFAULT_MAX_ERRORS) -> None:
        if max_errors < 0:
            raise ValueError("max_errors must not be negative")
        self._started = started
        self._max_errors = max_errors
        self._counts: dict[str, int] = dict.fromkeys(COUNTED, 0)
        self._bytes = 0
        self._errors: list[ErrorEntry] = []
        self._first_start = math.inf
        self._total_files: int | None = None
        self._total_bytes: int | None = None
        """Summed over total records: several hosts' outputs merge into one run."""
        self._walk_failed = 0
        self._last_end = -math.inf
        self._stopped: list[ErrorEntry] = []
        self._interrupted = 0

    def add(self, record: Record) -> None:
        """Count one valid record (a total record adds to the files expected instead)."""
        if is_total(record):
            self._total_files = (self._total_files or 0) + (record.total_files or 0)
            self._total_bytes = (self._total_bytes or 0) + (record.total_bytes or 0)
            return
        if is_stop(record):
            self._stopped.append(ErrorEntry(error=record.error or "", stage=record.stage))
            return
        status = record.status or PENDING
        self._counts[status] += 1
        if status == "uploaded":
            self._bytes += record.bytes or 0
        elif status == "failed":
            self._walk_failed += record.stage == WALK_STAGE
            self._interrupted += record.error == INTERRUPTED
            self._remember(
                ErrorEntry(
                    error=record.error or "failed without an error message",
                    stage=record.stage,
                    key=record.key,
                    path=record.path,
                    line=record.line,
                )
            )
        if record.ts is not None:
            took = max(record.seconds or 0.0, 0.0)
            self._first_start = min(self._first_start, record.ts - took)
            self._last_end = max(self._last_end, record.ts)

    def add_invalid(self, line: int, error: str, source: str | None = None) -> None:
        """Count a line that is not a record; ``source`` names the file it came from."""
        self._counts["invalid"] += 1
        self._remember(ErrorEntry(error=error, stage=STAGE, line=line, source=source))

    def summary(self, now: float) -> Summary:
        """Return the totals so far; ``now`` is a reading of the clock ``started`` came from."""
        if self._last_end >= self._first_start:
            seconds = self._last_end - self._first_start
        else:
            seconds = max(now - self._started, 0.0)
        counts = self._counts
        return Summary(
            uploaded=counts["uploaded"],
            skipped=counts["skipped"],
            failed=counts["failed"],
            planned=counts["planned"],
            pending=counts[PENDING],
            invalid=counts["invalid"],
            bytes=self._bytes,
            seconds=seconds,
            errors=tuple(self._errors),
            total_files=self._total_files,
            total_bytes=self._total_bytes,
            walk_failed=self._walk_failed,
            stopped=tuple(self._stopped),
            interrupted=self._interrupted,
        )

    def _remember(self, entry: ErrorEntry) -> None:
        if len(self._errors) < self._max_errors:
            self._errors.append(entry)


def is_stop(record: Record) -> bool:
    """Whether a record says a stage stopped before its end (put or walk exits 2 after it).

    A stop record names no file: a failed record with ``"fatal": true`` and
    neither path nor key (docs/records.md, "A stage that stopped").
    """
    return (
        record.status == "failed"
        and record.extra.get("fatal") is True
        and record.path is None
        and record.key is None
    )


def human_bytes(count: float) -> str:
    """Render a byte count with a binary unit, as a person reads it: ``1.5 MiB``."""
    value = float(count)
    for unit in _UNITS:
        if abs(value) < _KIBI or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= _KIBI
    raise AssertionError("unreachable")  # pragma: no cover


def format_summary(summary: Summary) -> str:
    """Render the summary for people; the first line is s3-parallel-put's, word for word.

    Keys, paths and errors have their control characters escaped: a key
    named ``esc\\x1b[31mred`` must not paint the terminal it is shown on.
    """
    lines = [
        (
            f"put {summary.bytes} bytes in {summary.uploaded} files in {summary.seconds:.1f} "
            f"seconds ({int(summary.bytes_per_second)} bytes/s, "
            f"{summary.files_per_second:.1f} files/s)"
        )
    ]
    width = max(len(name) for name in COUNTED)
    lines.extend(f"{name + ':':<{width + 1}} {getattr(summary, name)}" for name in COUNTED)
    if summary.missing:
        lines.append(
            f"{'missing:':<{width + 1}} {summary.missing} "
            f"(walk counted {summary.total_files} files; these have no record)"
        )
    lines.extend(
        f"stopped: {entry.stage or 'a stage'} stopped before its end: {one_line(entry.error)}"
        for entry in summary.stopped
    )
    if summary.errors:
        lines.append(f"first errors ({len(summary.errors)} of {summary.error_count}):")
        for entry in summary.errors:
            stage = f" [{entry.stage}]" if entry.stage else ""
            # A name is shown exactly (a line break as \n); an error's whitespace is collapsed.
            where, error = one_line(escape_controls(entry.where)), one_line(entry.error)
            lines.append(f"  {where}{stage}: {escape_controls(error)}")
    return "\n".join(lines) + "\n"


def summary_to_json(summary: Summary) -> dict[str, Any]:
    """Return the summary as one JSON object for scripts; rates are rounded to milli-units."""
    return {
        "records": summary.records,
        **{name: getattr(summary, name) for name in COUNTED},
        "bytes": summary.bytes,
        "seconds": round(summary.seconds, 3),
        "bytes_per_second": round(summary.bytes_per_second, 3),
        "files_per_second": round(summary.files_per_second, 3),
        **({} if summary.total_files is None else {"total_files": summary.total_files}),
        **({} if summary.total_bytes is None else {"total_bytes": summary.total_bytes}),
        **({} if summary.missing is None else {"missing": summary.missing}),
        **(
            {"stopped": [{"stage": e.stage, "error": e.error} for e in summary.stopped]}
            if summary.stopped
            else {}
        ),
        "errors": [
            {
                "key": entry.key,
                "path": entry.path,
                "line": entry.line,
                "source": entry.source,
                "stage": entry.stage,
                "error": entry.error,
            }
            for entry in summary.errors
        ],
    }
