"""s3pput-stat: sum up put results into a summary people read, or one JSON object.

The summary goes to stdout (it is this stage's output); logs and the live
progress line go to stderr. Exit 0 when every file's last record succeeded
(a failure a later record made good is recovered), 1 when one did not or a
line was not a record, 2 when an input file could not be read, a stage
before stat stopped (its stop record says why) or ``--report`` could not be
written. The report's modules are imported only when ``--report`` is given.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from s3pput import log
from s3pput.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandParser,
    StopRequest,
    add_logging_options,
    int_at_least,
    require_stdout,
    run,
    say_if_waiting_on_a_terminal,
    setup_logging,
    stdin_is_closed,
)
from s3pput.ndjson import STDIN, read_lines, write_all
from s3pput.stat.live_tally import LiveTally, count_lines
from s3pput.stat.progress_line import ProgressLine
from s3pput.stat.summary import (
    DEFAULT_MAX_ERRORS,
    STAGE,
    Summary,
    Tally,
    summary_to_json,
)
from s3pput.stat.summary_text import format_summary

if TYPE_CHECKING:
    from s3pput.stat.report_data import ReportingTally, RunReport

__all__ = ["Options", "build_parser", "check_report_path", "main", "new_tally", "write_report"]

DRAIN_SECONDS: Final = 10
"""How long a stopped stat reads on, for the results put reports after the same Ctrl-C."""


@dataclass(frozen=True)
class Options:
    """What the command line asked for, checked and frozen."""

    files: tuple[str, ...]
    json: bool
    max_errors: int
    progress: bool
    report: Path | None = None


_EPILOG: Final = """\
Several FILEs are read in the order given, each line in order, so a replay
of the failures can follow the first run: s3pput-stat run1.ndjson replay.ndjson.
A failed file that a later record uploaded (or skipped as already there) is
recovered, and the summary says so.

exit status:
  0  every file's last record succeeded (recovered failures included)
  1  a file's last record failed, a line was not a record, or files walk
     counted have no record
  2  an input FILE could not be read, a stage before stat stopped, or
     --report could not be written
  130  interrupted
"""

_STDIN_CLOSED: Final = "standard input is closed: give the results on stdin or as FILE arguments"


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line; kept separate so docs and tests can inspect it."""
    parser = CommandParser(
        prog="s3pput-stat",
        description=(
            "Sum up put results: bytes, files, seconds and rates, counts per status "
            "and the first errors. Several FILEs (runs from several machines) are merged."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        default=[STDIN],
        help="NDJSON put results to read, '-' for stdin (default: -)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    parser.add_argument(
        "--errors",
        type=int_at_least(0),
        default=DEFAULT_MAX_ERRORS,
        metavar="N",
        help=f"list at most N errors (default: {DEFAULT_MAX_ERRORS})",
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no live progress line on stderr (it is only ever shown on a terminal)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        metavar="HTML",
        help=(
            "also write a run report to HTML, one self-contained page (nothing fetched): "
            "throughput over time, latency by size, errors by kind, retries, the slowest keys; "
            "a line per host (a record's 'host' field, else its input FILE)"
        ),
    )
    add_logging_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``s3pput-stat``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    require_stdout(parser)
    options = Options(
        files=tuple(args.files),
        json=args.json,
        max_errors=args.errors,
        progress=args.progress,
        report=args.report,
    )
    check_report_path(parser, options.report)
    log_file = setup_logging(args)
    if stdin_is_closed(options.files):
        log.get_logger("stat").error("stopped", error=_STDIN_CLOSED)  # stdout is the summary's
        return EXIT_USAGE
    say_if_waiting_on_a_terminal(parser.prog, options.files, "put's result records")
    try:
        return run(functools.partial(stat, options))
    finally:
        if log_file is not None:
            log_file.close()


def stat(options: Options, clock: Callable[[], float] = time.monotonic) -> int:
    """Read every FILE in order, print the summary, and say how the run went.

    Ctrl-C (or SIGTERM) prints what was counted and exits 130, but only
    once the input ends or DRAIN_SECONDS have passed: in ``walk | put |
    stat`` the same Ctrl-C makes put report every record it held, and
    those results must be counted, not lost. ``tail -f run.ndjson |
    s3pput-stat`` ends after the grace, or at once on a second Ctrl-C.
    """
    progress = progress_line() if options.progress else None
    tally, on_source = new_tally(options.report, started=clock(), max_errors=options.max_errors)
    live = LiveTally(tally, progress.show if progress is not None else None, clock=clock)
    unreadable = False
    stop = StopRequest(grace=DRAIN_SECONDS)
    try:
        with stop.handling(), live.redrawing():
            unreadable = _read(options.files, live, on_source)
    except KeyboardInterrupt:
        stop.requested = True
    finally:
        if progress is not None:
            progress.clear()
    interrupted = stop.requested

    summary = tally.summary(clock())
    if on_source is not None and options.report is not None:
        unwritten = not write_report(options.report, on_source.report, options.files)
        unreadable = unreadable or unwritten
    write_summary(summary, as_json=options.json)
    if interrupted:
        return EXIT_INTERRUPTED
    for entry in summary.stopped:
        log.get_logger(STAGE).error(
            "a stage stopped before its end", stage=entry.stage, error=entry.error
        )
    if unreadable or summary.stopped:
        return EXIT_USAGE
    return EXIT_OK if summary.ok else EXIT_FAILED


def _read(files: Sequence[str], live: LiveTally, on_source: ReportSource | None = None) -> bool:
    """Count every FILE in order; return True if one of them could not be read.

    An unreadable file is logged and skipped, like ripgrep does, so the
    others still count; the exit code then says the summary is partial.
    On a terminal a log line wipes the progress line first (``log.py``);
    the next redraw puts it back.
    """
    logger = log.get_logger(STAGE)

    def on_invalid(source: str, line: int, error: str) -> None:
        logger.warning("line is not a record", file=source, line=line, error=error)

    unreadable = False
    for source in files:
        if on_source is not None:
            on_source.source = source
        try:
            count_lines(read_lines([source]), live, on_invalid=on_invalid)
        except BrokenPipeError:
            raise
        except OSError as exc:
            logger.error("cannot read input", file=source, error=str(exc))  # noqa: TRY400  # the reason is the message; a traceback would only add noise
            unreadable = True
    return unreadable


class ReportSource(Protocol):
    """What names the input file records are read from, for the report's hosts."""

    source: str


def new_tally(
    report: Path | None, *, started: float, max_errors: int = DEFAULT_MAX_ERRORS
) -> tuple[Tally, ReportingTally | None]:
    """The run's tally; with ``--report`` one that also feeds the report (returned twice)."""
    if report is None:
        return Tally(started=started, max_errors=max_errors), None
    from s3pput.stat.report_data import ReportingTally, RunReport  # noqa: PLC0415  # only for --report

    tally = ReportingTally(RunReport(), started=started, max_errors=max_errors)
    return tally, tally


def check_report_path(parser: argparse.ArgumentParser, report: Path | None) -> None:
    """``--report``'s usage errors (exit 2), before any record is read."""
    if report is None:
        return
    if str(report) == STDIN:
        parser.error("--report: give a file name: stdout carries the summary")
    if not report.parent.is_dir():
        parser.error(f"--report: no such directory: {report.parent}")
    if report.is_dir():
        parser.error(f"--report: is a directory: {report}")


def write_report(path: Path, report: RunReport, sources: Sequence[str]) -> bool:
    """Write the run report; log why not and return False when it cannot be written."""
    from s3pput.stat import report_html  # noqa: PLC0415  # only for --report

    try:
        report_html.write_report(path, report, sources=tuple(sources))
    except OSError as exc:
        # The reason is the message; a traceback would only add noise.
        log.get_logger(STAGE).error("cannot write the report", file=str(path), error=str(exc))
        return False
    return True


def progress_line() -> ProgressLine | None:
    """Return a progress line on stderr if it is a terminal: never draw into a file or pipe.

    The line fits the terminal's width as it is at each redraw.
    """
    if not sys.stderr.isatty():
        return None
    return ProgressLine(sys.stderr)


def write_summary(summary: Summary, *, as_json: bool) -> None:
    """Write the summary as bytes, so odd keys and paths cannot fail on a narrow locale.

    A reader that has gone raises BrokenPipeError here, which ``run`` turns into exit 0.
    """
    if as_json:
        obj = summary_to_json(summary)
        try:
            data = json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:
            # A key held a lone surrogate: JSON can carry it escaped, UTF-8 cannot.
            data = json.dumps(obj, allow_nan=False).encode("ascii")
        data += b"\n"
    else:
        text = format_summary(summary)
        try:
            # Paths that were not UTF-8 go back out as the bytes they were.
            data = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            data = text.encode("utf-8", "backslashreplace")
    write_all(sys.stdout.buffer, data)
