"""The summary as people read it: sizes, rates and times in human units, and what went wrong.

``s3pput-stat`` and the one-command ``s3pput`` end with this text on
stdout. Sizes and rates use the progress line's binary units (``4.9 MiB``,
``377.0 KiB/s``), a time reads ``13.3 s``, ``2 min 5 s`` or ``1 h 2 min``,
and the lines under the first say how the statuses came about: copies,
skip reasons, failures a later run recovered, interruptions, retries and
the first errors. Scripts read ``--json`` (summary.py), never this text.
Keys, paths and errors are escaped for the terminal. This module must not
know where the text goes.
"""

from __future__ import annotations

from typing import Final

from s3pput.printable import escape_controls
from s3pput.records import one_line
from s3pput.stat.outcomes import OTHER_REASON
from s3pput.stat.summary import COUNTED, MIN_SPAN, ErrorEntry, Summary, human_bytes

__all__ = ["format_summary", "human_duration"]

_MINUTE: Final = 60
_HOUR: Final = 3600
_WIDTH: Final = max(len(name) for name in COUNTED) + 1
"""The count column: ``uploaded:`` is the longest label of the six always shown."""


def human_duration(seconds: float) -> str:
    """Render a span as a person says it: ``13.3 s``, ``2 min 5 s``, ``1 h 2 min``."""
    if round(seconds, 1) < _MINUTE:
        return f"{max(seconds, 0.0):.1f} s"
    whole = round(seconds)
    if whole < _HOUR:
        minutes, secs = divmod(whole, _MINUTE)
        return f"{minutes} min {secs} s"
    hours, rest = divmod(whole, _HOUR)
    return f"{hours} h {rest // _MINUTE} min"


def format_summary(summary: Summary) -> str:
    """Render the summary for people: the run on one line, then a count per line.

    The six counts (``uploaded:`` ... ``invalid:``) are always there, so
    ``grep failed:`` finds its line; the other lines show only when they
    have something to say.
    """
    lines = [_headline(summary)]
    lines.extend(_label(name, _count_text(summary, name)) for name in COUNTED)
    if summary.interrupted:
        lines.append(f"interrupted: {_interrupted_text(summary)}")
    if summary.retries:
        lines.append(
            _label(
                "retries",
                f"{summary.retries} ({_records(summary.records_retried)} needed more than one try)",
            )
        )
    if summary.missing:
        lines.append(
            _label(
                "missing",
                f"{summary.missing} (walk counted {summary.total_files} files; "
                "these have no record)",
            )
        )
    lines.extend(
        f"stopped: {entry.stage or 'a stage'} stopped before its end: {one_line(entry.error)}"
        for entry in summary.stopped
    )
    if summary.errors:
        lines.append(f"first errors ({len(summary.errors)} of {summary.error_count}):")
        lines.extend(_error_line(entry) for entry in summary.errors)
        if summary.error_count > len(summary.errors):
            lines.append(f"  ... and {summary.error_count - len(summary.errors)} more")
    return "\n".join(lines) + "\n"


def _headline(summary: Summary) -> str:
    """What was sent (and copied server-side), how long it took, and how fast."""
    sent_files = summary.uploaded - summary.copied
    moved = summary.bytes + summary.copied_bytes
    rate = moved / summary.seconds if summary.seconds >= MIN_SPAN else 0.0
    pace = (
        f"in {human_duration(summary.seconds)} "
        f"({human_bytes(rate)}/s, {summary.files_per_second:.1f} files/s)"
    )
    copied = f"copied {human_bytes(summary.copied_bytes)} in {_files(summary.copied)} server-side"
    if not summary.copied:
        return f"put {human_bytes(summary.bytes)} in {_files(sent_files)} {pace}"
    if not sent_files:
        return f"{copied} {pace}"
    return f"put {human_bytes(summary.bytes)} in {_files(sent_files)} and {copied} {pace}"


def _records(count: int) -> str:
    return "1 record" if count == 1 else f"{count} records"


def _files(count: int) -> str:
    return "1 file" if count == 1 else f"{count} files"


def _label(name: str, text: str) -> str:
    return f"{name + ':':<{_WIDTH}} {text}"


def _count_text(summary: Summary, name: str) -> str:
    """One count, with what lies behind it when there is something to say."""
    count = getattr(summary, name)
    if name == "uploaded" and summary.copied:
        return f"{count} ({summary.copied} copied server-side)"
    if name == "skipped" and _reasons_known(summary):
        reasons = sorted(summary.skipped_by_reason, key=lambda item: (-item[1], item[0]))
        return f"{count} ({', '.join(f'{n} {escape_controls(r)}' for r, n in reasons)})"
    if name == "failed":
        failed = summary.failed_not_interrupted
        recovered = summary.recovered - summary.recovered_interrupted
        return f"{failed}{_recovery(failed, recovered)}"
    return str(count)


def _reasons_known(summary: Summary) -> bool:
    """Whether a skip reason is worth showing: not when no record gave one."""
    return any(reason != OTHER_REASON for reason, _ in summary.skipped_by_reason)


def _interrupted_text(summary: Summary) -> str:
    count, recovered = summary.interrupted, summary.recovered_interrupted
    if recovered:
        return f"{count}{_recovery(count, recovered)}"
    never = f"{summary.not_started} never started; " if summary.not_started else ""
    return f"{count} ({never}the run was stopped before they finished; replay them)"


def _recovery(count: int, recovered: int) -> str:
    """How many of ``count`` failures a later record made good, if any did."""
    if not recovered:
        return ""
    if recovered == count:
        return " (recovered later)" if count == 1 else f" (all {count} recovered later)"
    return f" ({recovered} recovered later, {count - recovered} not)"


def _error_line(entry: ErrorEntry) -> str:
    """One error: where, which stage, why; a name shown exactly, an error on one line."""
    stage = f" [{entry.stage}]" if entry.stage else ""
    where, error = one_line(escape_controls(entry.where)), one_line(entry.error)
    later = " (recovered later)" if entry.recovered else ""
    return f"  {where}{stage}: {escape_controls(error)}{later}"
