"""``s3pput`` (alias ``s3-parallel-put``): walk | put | stat in one command, the original's way.

It runs the same cores as the three stage commands, in one process, so its
records (``--output FILE``) are exactly what the pipeline would have written.
This module only joins them (walk's records in batches, put's loop with
``--resume``'s lane, stat's live tally) and maps the end to an exit status;
the decisions are the stages' own.
"""

from __future__ import annotations

import argparse
import itertools
import socket
import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from s3pput import log, ndjson
from s3pput.cli import _common
from s3pput.cli.put import exit_now, exit_status, options_from_args
from s3pput.cli.put_arguments import add_put_arguments
from s3pput.cli.stat import (
    check_report_path,
    new_tally,
    progress_line,
    write_report,
    write_summary,
)
from s3pput.cli.walk import add_walk_arguments, listed_paths, walk_options
from s3pput.errors import BucketError, OutputError
from s3pput.ndjson import in_batches
from s3pput.put.lane import Lane
from s3pput.put.pool import PoolLane
from s3pput.put.resume import Resuming, done_keys
from s3pput.put.run import (
    RunOptions,
    make_uploaders,
    run_put,
    sends_nothing,
    usable_bucket,
    without_duplicates,
)
from s3pput.put.uploader import Uploader
from s3pput.records import Record
from s3pput.stat.live_tally import LiveTally
from s3pput.stat.summary import Tally
from s3pput.transport.clients import has_credentials
from s3pput.walk.count_ahead import CountAhead
from s3pput.walk.local_tree import WalkOptions, iter_batches, iter_files, iter_files_from
from s3pput.walk.tar_members import iter_archives

if TYPE_CHECKING:
    from s3pput.stat.report_data import ReportingTally
from s3pput.walk.totals import total_record

__all__ = ["build_parser", "main"]

WALK_BATCH: Final = 256
"""Records walked before they are handed to the uploads at once."""
_log = log.get_logger("s3pput")

_EPILOG: Final = """\
This is `s3pput-walk SRC | s3pput-put | s3pput-stat` in one command, with all
of walk's options (--exclude/--include and their -from files, --files-from,
-0, -r, --count; see s3pput-walk --help). The summary
goes to stdout; with --output FILE every result record is written there too,
in the format s3pput-put writes (replay its failures with
`jq -c 'select(.status=="failed")' FILE | s3pput-put --bucket B`).

--resume FILE (repeatable) reads earlier runs' records and reports keys they
uploaded or skipped as skipped (reason "resumed") without looking at S3.

On a terminal, a live progress line shows how far the run is, with an ETA: a
second walk of SRC counts the files while they upload (as rclone does), and
the line shows N/M+ files until that count ends.

exit status: 0 nothing failed, 1 some record failed, 2 usage error, 130 interrupted.
"""


def build_parser(prog: str = "s3pput") -> argparse.ArgumentParser:
    """The original s3-parallel-put command line, plus the stages' modern options."""
    parser = _common.CommandParser(
        prog=prog,
        description="Upload files to S3 in parallel: walk SRC, put each file, print a summary.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="*", metavar="SRC", help="file or directory to upload")
    add_walk_arguments(parser)
    add_put_arguments(parser)
    run = parser.add_argument_group("run")
    run.add_argument(
        "--output", "-o", metavar="FILE", help="also write every result record to FILE"
    )
    run.add_argument(
        "--resume",
        action="append",
        default=[],
        metavar="FILE",
        help="skip keys that FILE (an earlier --output) says were uploaded or skipped",
    )
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument(
        "--report",
        type=Path,
        metavar="HTML",
        help="also write a run report to HTML, as s3pput-stat --report does (one "
        "self-contained page; its host is this machine's name)",
    )
    run.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no live progress line on a terminal (nor the walk that counts the files ahead "
        "of the uploads for its ETA)",
    )
    _common.add_logging_options(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of s3pput and s3-parallel-put."""
    prog = "s3-parallel-put" if sys.argv[0].endswith("s3-parallel-put") else "s3pput"
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    _common.require_stdout(parser)
    log_file = _common.setup_logging(args)
    walking = walk_options(parser, args)
    check_report_path(parser, args.report)
    if _common.stdin_is_closed([args.files_from or ""]):
        _log.error("standard input is closed: --files-from - has no list to read")
        return _common.EXIT_USAGE
    options = options_from_args(args, parser)
    try:
        resumed = done_keys(args.resume)
    except OSError as exc:
        parser.error(f"cannot read --resume file: {exc}")
    if not sends_nothing(options.put) and not has_credentials(options.client):
        _log.error("no AWS credentials found (environment, profile, or instance role)")
        return _common.EXIT_USAGE
    try:
        return _common.run(
            lambda: _checked_job(args, options, walking, resumed),
            broken_pipe_code=_common.EXIT_FAILED,
        )
    finally:
        if log_file is not None:
            log_file.close()


def _checked_job(
    args: argparse.Namespace, options: RunOptions, walking: WalkOptions, resumed: set[str]
) -> int:
    """Check the bucket, then walk and upload; inside ``_common.run``, so Ctrl-C is handled."""
    uploader, pool = make_uploaders(options)
    try:
        usable_bucket(uploader, options.put)
    except BucketError as exc:
        if pool is not None:
            pool.close(finished=False)
        uploader.close()
        _log.error("stopped", error=str(exc))
        return _common.EXIT_USAGE
    lane = Resuming(uploader, resumed, lane=pool)
    with ExitStack() as stack:
        output: BinaryIO | None = None
        if args.output:
            # Unbuffered: every batch is written (or refused, on a full disk) when it is
            # emitted, so closing the file has nothing left to fail on.
            output = stack.enter_context(open(args.output, "wb", buffering=0))
        records = _walked(args, walking)
        return _whole_job(
            uploader=uploader,
            lane=lane,
            pool=pool,
            jobs=options.jobs,
            batches=without_duplicates(in_batches(records, WALK_BATCH), options.put),
            output=output,
            args=args,
            walking=walking,
        )


def _walked(args: argparse.Namespace, walking: WalkOptions) -> Iterable[Record]:
    """The records s3pput-walk would write for these options: with --count, a total first."""
    if args.files_from is not None:
        return iter_files_from(listed_paths(args.files_from, null=args.null), walking)
    tar = args.walk == "tar"
    records = iter_archives(args.sources, walking) if tar else iter_files(args.sources, walking)
    if not args.count:
        return records
    counted = iter_archives if tar else iter_batches
    return itertools.chain([total_record(counted(args.sources, walking))], records)


def _whole_job(  # noqa: PLR0913  # the parts of one run, assembled by main
    *,
    uploader: Uploader,
    lane: Lane,
    pool: PoolLane | None,
    jobs: int,
    batches: Iterable[list[Record]],
    output: BinaryIO | None,
    args: argparse.Namespace,
    walking: WalkOptions,
) -> int:
    """Run walk | put | stat in-process; print the summary; return the exit status."""
    tally, reporting = new_tally(args.report, started=time.monotonic())
    if reporting is not None:
        reporting.source = socket.gethostname()  # the report's line: this machine
    progress = progress_line() if args.progress else None
    ahead = _count_ahead(args, walking) if progress is not None else None
    live = LiveTally(tally, progress.show if progress is not None else None, expected=ahead)

    def emit(results: list[Record]) -> None:
        live.add(results)
        if output is not None:
            try:
                ndjson.write_records(output, results)
            except OutputError as exc:
                raise OutputError(str(exc), target=args.output) from exc

    try:
        with live.redrawing():
            outcome = run_put(uploader, batches, emit, jobs=jobs, lane=lane, pool=pool)
    finally:
        if ahead is not None:
            ahead.stop()
    status = exit_status(outcome)
    if progress is not None:
        progress.clear()
    reported = _write_results(tally, reporting, args)
    if status == _common.EXIT_INTERRUPTED:
        if output is not None:
            output.flush()
        exit_now(status)
    if not reported:
        return _common.EXIT_USAGE
    return _common.EXIT_FAILED if status != _common.EXIT_OK else status


def _write_results(
    tally: Tally, reporting: ReportingTally | None, args: argparse.Namespace
) -> bool:
    """The report (with ``--report``), then the summary; False if the report was not written."""
    reported = reporting is None or write_report(args.report, reporting.report, (reporting.source,))
    try:
        write_summary(tally.summary(time.monotonic()), as_json=args.json)
    except BrokenPipeError:
        _common.close_stdout_quietly()
    return reported


def _count_ahead(args: argparse.Namespace, walking: WalkOptions) -> CountAhead | None:
    """Count the files on a thread while they upload, for the progress line's ETA (as rclone).

    Only a walk of SRC paths can be read twice; a list read from a file or
    stdin cannot, a tar archive would be decompressed twice, and ``--count``
    counts first anyway.
    """
    if args.walk != "filesystem" or args.files_from is not None or args.count:
        return None
    return CountAhead(lambda: iter_batches(args.sources, walking)).start()
