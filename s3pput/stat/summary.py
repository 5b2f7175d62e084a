"""Summing up put results: counts, bytes, rates and the first errors.

Time comes from the records themselves (``ts`` and ``seconds``) so that a
replayed ``run.ndjson`` or runs merged from several hosts report the time the
uploads took, not the time it took to read them. Nothing here touches
stdout or stderr: the CLI gets text back and decides where it goes.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Final

from s3pput.records import STATUSES, WALK_STAGE, Record, is_total
from s3pput.stat.outcomes import Identity, Outcomes, file_identity

__all__ = [
    "DEFAULT_MAX_ERRORS",
    "PROGRESS_INTERVAL",
    "STAGE",
    "ErrorEntry",
    "Summary",
    "Tally",
    "human_bytes",
    "is_stop",
    "summary_to_json",
    "where",
]

DEFAULT_MAX_ERRORS: Final = 10
PROGRESS_INTERVAL: Final = 0.25
"""Seconds between progress refreshes: lively, yet cheap on a fast pipe."""

STAGE: Final = "stat"
PENDING: Final = "pending"
"""What a record without a status is: walk output that no put has seen yet."""

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
    recovered: bool = False
    """A later record uploaded this failed file after all (a replay)."""

    @property
    def where(self) -> str:
        """Name the failure the way a user would look for it: key, then path, then line."""
        return where(self.key, self.path, self.line, self.source)


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
    copied: int = 0
    """Uploaded records that were server-side copies: no bytes sent, ``copied_bytes`` copied."""
    copied_bytes: int = 0
    skipped_by_reason: tuple[tuple[str, int], ...] = ()
    """Skipped records by their ``reason`` (``unchanged``, ``exists``, ``resumed``)."""
    interrupted: int = 0
    """Failed records the run was stopped before they finished (among ``failed``)."""
    not_started: int = 0
    """Interrupted records put had not begun (among ``interrupted``): nothing was sent."""
    recovered: int = 0
    """Failed records whose file a later record uploaded (among ``failed``)."""
    recovered_interrupted: int = 0
    """Interrupted records among ``recovered``."""
    records_retried: int = 0
    """Records whose requests needed more than one try."""
    retries: int = 0
    """Tries beyond the first, over every record."""
    counting: bool = False
    """``total_files`` is a count still under way (the one command counts ahead): no ETA yet."""

    @property
    def records(self) -> int:
        """Valid records read; invalid lines are not records."""
        return self.uploaded + self.skipped + self.failed + self.planned + self.pending

    @property
    def still_failed(self) -> int:
        """Failed records that no later record made good: what decides the exit status."""
        return self.failed - self.recovered

    @property
    def failed_not_interrupted(self) -> int:
        """Failed records that were failures of their own, not stopped by Ctrl-C."""
        return self.failed - self.interrupted

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
        return max(0, self.total_files - self.files_done)

    @property
    def ok(self) -> bool:
        """True when every file's last record succeeded and nothing else went wrong.

        Nothing else: no line was bad, none is missing, no stage stopped. A
        file that failed in one run and was uploaded by a later one (a replay
        read after it) is recovered, not failed; one that succeeded and then
        failed is failed.
        """
        return (
            self.still_failed == 0 and self.invalid == 0 and not self.missing and not self.stopped
        )

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
        self._outcomes = Outcomes()
        self._error_files: list[Identity | None] = []
        """The file of each listed error, to mark it when a later record recovers it."""

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
        for recovered in self._outcomes.add(record):
            self._mark_recovered(recovered)
        if status == "uploaded":
            self._bytes += record.bytes or 0
        elif status == "failed":
            self._walk_failed += record.stage == WALK_STAGE
            self._remember(
                ErrorEntry(
                    error=record.error or "failed without an error message",
                    stage=record.stage,
                    key=record.key,
                    path=record.path,
                    line=record.line,
                ),
                file_identity(record),
            )
        if record.ts is not None:
            took = max(record.seconds or 0.0, 0.0)
            self._first_start = min(self._first_start, record.ts - took)
            self._last_end = max(self._last_end, record.ts)

    def add_invalid(self, line: int, error: str, source: str | None = None) -> None:
        """Count a line that is not a record; ``source`` names the file it came from."""
        self._counts["invalid"] += 1
        self._remember(ErrorEntry(error=error, stage=STAGE, line=line, source=source), None)

    def summary(self, now: float) -> Summary:
        """Return the totals so far; ``now`` is a reading of the clock ``started`` came from."""
        if self._last_end >= self._first_start:
            seconds = self._last_end - self._first_start
        else:
            seconds = max(now - self._started, 0.0)
        counts = self._counts
        outcomes = self._outcomes
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
            copied=outcomes.copied,
            copied_bytes=outcomes.copied_bytes,
            skipped_by_reason=tuple(sorted(outcomes.skip_reasons.items())),
            interrupted=outcomes.interrupted,
            not_started=outcomes.not_started,
            recovered=outcomes.recovered,
            recovered_interrupted=outcomes.recovered_interrupted,
            records_retried=outcomes.records_retried,
            retries=outcomes.retries,
        )

    def _remember(self, entry: ErrorEntry, file: Identity | None) -> None:
        if len(self._errors) < self._max_errors:
            self._errors.append(entry)
            self._error_files.append(file)

    def _mark_recovered(self, file: Identity) -> None:
        for index, listed in enumerate(self._error_files):
            if listed == file and not self._errors[index].recovered:
                self._errors[index] = dataclasses.replace(self._errors[index], recovered=True)


def where(key: str | None, path: str | None, line: int | None, source: str | None = None) -> str:
    """Name a record the way a user would look for it: key, then path, then line."""
    if key is not None:
        return key
    if path is not None:
        return path
    if line is not None:
        return f"{source}:{line}" if source else f"line {line}"
    return "(unnamed record)"


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


def summary_to_json(summary: Summary) -> dict[str, Any]:
    """Return the summary as one JSON object for scripts; rates are rounded to milli-units.

    Fields are only ever added (docs/records.md); no number is ever
    infinite or NaN, which JSON cannot carry.
    """
    return {
        "records": summary.records,
        **{name: getattr(summary, name) for name in COUNTED},
        "bytes": summary.bytes,
        "seconds": _finite(summary.seconds),
        "bytes_per_second": _finite(summary.bytes_per_second),
        "files_per_second": _finite(summary.files_per_second),
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
        "copied": summary.copied,
        "copied_bytes": summary.copied_bytes,
        "skipped_by_reason": dict(summary.skipped_by_reason),
        "interrupted": summary.interrupted,
        "not_started": summary.not_started,
        "recovered": summary.recovered,
        "still_failed": summary.still_failed,
        "records_retried": summary.records_retried,
        "retries": summary.retries,
    }


def _finite(value: float) -> float:
    """Round to milli-units; a value that is not finite (never expected) becomes 0."""
    return round(value, 3) if math.isfinite(value) else 0.0
