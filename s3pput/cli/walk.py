"""``s3pput-walk``: list local files as NDJSON records for ``s3pput-put``.

This module parses and checks the command line, writes what the walk
stage yields (local trees, ``--files-from`` lists, tar archives, S3
sources) and maps the run to an exit status; which files become records,
with which keys, is the walk stage's business.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Final

from s3pput import log, ndjson
from s3pput.cli._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    StageParser,
    StopRequest,
    add_logging_options,
    int_at_least,
    require_stdout,
    run,
    setup_logging,
    stdin_is_closed,
    stop_fatally,
    write_stop_record,
)
from s3pput.errors import InputError
from s3pput.records import Record
from s3pput.walk.filters import read_patterns
from s3pput.walk.local_tree import (
    STAGE,
    FileBatch,
    WalkOptions,
    iter_batches,
    iter_batches_from,
    split_paths,
)
from s3pput.walk.s3_objects import S3_SCHEME
from s3pput.walk.shard import Shard
from s3pput.walk.totals import total_record

__all__ = ["add_walk_arguments", "build_parser", "listed_paths", "main", "walk_options"]

_READ_SIZE: Final = 65536

_DESCRIPTION: Final = """\
Emit one JSON line per regular file under each SRC, for s3pput-put:

  {"s3pput":1,"path":"site/css/a.css","key":"www/css/a.css","size":120,"mtime":1700000000.0}

path is the local path to open (SRC joined with the path below it); a name
that is not UTF-8 travels exactly as path_b64 instead, and its key gets %XX
for each such byte (with a warning). key is PREFIX + the path relative to
SRC, joined with single slashes; a SRC that is a file gets PREFIX + its
basename. Records stream out as the walk goes (written in batches, each directory's
before the next is read), with the entries of each directory sorted by name.
"""

_EPILOG: Final = """\
symlinks:
  A symlink to a file gives a record with the link's path and key and the
  target's size and mtime. Symlinks to directories are followed unless
  --no-follow-dir-links (then skipped with a warning); a link back to a
  directory being walked is a failed "symlink loop" record and is not
  descended. SRC arguments and --files-from paths are always followed.

threads and stat:
  Each file is stat()ed for its size and mtime. On a network file system
  every stat waits for the server: --walk-threads N lists and stats
  directories on N threads ahead of the output (up to ~65,000 entries
  ahead), so N waits overlap. The output is the same, line for line, for
  any N. On a local disk the default of 1 is fastest: there a stat takes
  microseconds, and threads only add hand-overs. --no-stat writes
  records with path and key only, typed by the directory listing alone:
  s3pput-put stats each file itself when it reads it, and a file that
  vanishes fails there instead of here. Symlinks and directories are still
  stat()ed.

failures:
  Nothing is dropped silently and nothing is opened, so a fifo cannot hang
  the walk. A broken symlink, fifo, socket, device, unreadable directory,
  vanished entry or missing SRC becomes a record with "status":"failed",
  "stage":"walk" and an "error", and is logged on stderr.

patterns:
  --exclude and --include take fnmatch globs (* also matches /) tried on
  both the name and the path relative to SRC. An entry is kept when it
  matches an --include, or when it matches no --exclude and its directory is
  kept. The order of the flags does not matter: an include always wins (in
  aws, a later filter wins). --include alone filters nothing. So, as with
  aws s3 cp, every .jpg at any depth and nothing else:
    s3pput-walk photos --exclude '*' --include '*.jpg'
  Without --include an excluded directory is not read at all; with one, it
  is read for the files an include re-admits; tar members and S3 objects
  are judged by their paths the same way. --exclude-from FILE and
  --include-from FILE take patterns one a line (blank lines and lines
  starting with # skipped). By size or age, filter the records with jq:
    s3pput-walk D | jq -c 'select(.size > 1048576)' | s3pput-put --bucket B

--files-from:
  Paths are read as they arrive, newline- or (with --null) NUL-separated. A
  listed file gets the key PREFIX + its path without ./ or a leading /. A
  listed directory is skipped, as rsync and tar do, so plain `find . -print0`
  lists each file once; with -r it is walked with that path as its key
  prefix. Patterns see a listed path without ./ or a leading /, and its
  last part:  find . -name '*.jpg' -print0 | s3pput-walk -0 --files-from -

exit status:
  0 all records good, 1 at least one failed record, 2 usage or fatal error,
  130 interrupted. A reader that goes away (| head) ends the walk quietly
  with 0. Logs go to stderr, never stdout.
"""


class _ListReadError(Exception):
    """The --files-from list could not be read; the run cannot go on."""


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser; its help text is the user's documentation."""
    parser = StageParser(
        STAGE,
        prog="s3pput-walk",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sources", nargs="*", metavar="SRC", help="file or directory to list")
    add_walk_arguments(parser)
    s3 = parser.add_argument_group("S3 sources (s3://BUCKET/PREFIX; credentials: boto3's chain)")
    s3.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint to list")
    s3.add_argument("--profile", help="named profile from the AWS config files")
    add_logging_options(parser)
    return parser


def add_walk_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options that choose files and keys; the one-command s3pput shares them all."""
    parser.add_argument(
        "--prefix", default="", metavar="PREFIX", help="key prefix; www and www/ are the same"
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PATTERN",
        help="leave out files and directories matching PATTERN (repeatable)",
    )
    parser.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PATTERN",
        help="keep what matches PATTERN even where an --exclude matches it or a directory "
        "above it (repeatable): --exclude '*' --include '*.jpg' keeps .jpg files at any depth",
    )
    parser.add_argument(
        "--exclude-from",
        action="append",
        default=[],
        metavar="FILE",
        help="--exclude each pattern in FILE, one a line (blank lines and # comments skipped)",
    )
    parser.add_argument(
        "--include-from",
        action="append",
        default=[],
        metavar="FILE",
        help="--include each pattern in FILE, one a line, as --exclude-from",
    )
    parser.add_argument(
        "--limit",
        type=int_at_least(0),
        metavar="N",
        help="stop after N file records (failed records do not count)",
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        metavar="I/N",
        help="keep only share I of N (1 <= I <= N), chosen by a stable hash of the key, so N "
        "hosts walking the same tree each upload their share and together every file once",
    )
    parser.add_argument(
        "--no-follow-dir-links",
        dest="follow_dir_links",
        action="store_false",
        help="skip symlinks to directories (with a warning) instead of following them",
    )
    parser.add_argument(
        "--walk-threads",
        type=int_at_least(1),
        default=1,
        metavar="N",
        help="list and stat directories on N threads ahead of the output (default 1); "
        "the same output, faster on a network file system",
    )
    parser.add_argument(
        "--no-stat",
        dest="stat_files",
        action="store_false",
        help="do not stat files: records without size and mtime (put stats each file anyway)",
    )
    parser.add_argument(
        "--walk",
        choices=("filesystem", "s3", "tar"),
        default="filesystem",
        help="what SRC is: filesystem (the default), s3 (SRC is s3://BUCKET/PREFIX, also "
        "implied by that form; s3pput-put copies such records server-side), or tar (SRC is a tar "
        "archive, plain or gz/bz2/xz: a record per member, which put reads from the archive)",
    )
    parser.add_argument(
        "--files-from",
        metavar="FILE",
        help="read the paths to list from FILE (- for stdin) instead of SRC arguments",
    )
    parser.add_argument(
        "-0",
        "--null",
        action="store_true",
        help="--files-from paths are NUL-separated (find -print0), not newline-separated",
    )
    parser.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="with --files-from, walk listed directories too (default: skip them)",
    )
    parser.add_argument(
        "--count",
        action="store_true",
        help="walk twice: first count the files and bytes, and write them as one total record "
        "before the file records, so s3pput-stat can show an ETA",
    )


def walk_options(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, s3_sources: bool = False
) -> WalkOptions:
    """Check flags that argparse cannot check alone (exits 2), then freeze them.

    ``s3_sources``: whether this command can walk s3:// URLs (s3pput-walk can).
    """
    _check_sources(parser, args, s3_sources=s3_sources)
    if args.count and (args.files_from is not None or args.walk == "s3"):
        parser.error("--count walks SRC twice: give SRC paths or --walk tar archives")
    if args.count and not args.stat_files:
        parser.error("--count adds up the sizes of files, which --no-stat does not read")
    pattern_files = [*args.exclude_from, *args.include_from]
    if pattern_files.count(ndjson.STDIN) + (args.files_from == ndjson.STDIN) > 1:
        parser.error("standard input can be read once: give the other lists as files")
    return WalkOptions(
        prefix=args.prefix,
        include=(*args.include, *_patterns(parser, "--include-from", args.include_from)),
        exclude=(*args.exclude, *_patterns(parser, "--exclude-from", args.exclude_from)),
        limit=args.limit,
        follow_dir_links=args.follow_dir_links,
        descend_listed_dirs=args.recursive,
        shard=args.shard,
        walk_threads=args.walk_threads,
        stat_files=args.stat_files,
    )


def _check_sources(
    parser: argparse.ArgumentParser, args: argparse.Namespace, *, s3_sources: bool
) -> None:
    """Check that SRC, --files-from and --walk fit together (exits 2); set --walk s3 if implied."""
    reads_stdin = args.files_from is not None or ndjson.STDIN in args.sources
    if args.walk == "tar" and reads_stdin:
        parser.error("--walk tar reads archive files named as SRC (put reads them again)")
    from_s3 = [s for s in args.sources if s.startswith(S3_SCHEME)]
    if args.walk == "s3" or from_s3:
        if not s3_sources:
            parser.error("an S3 source needs s3pput-walk s3://B/P | s3pput-put")
        if len(from_s3) != len(args.sources) or not from_s3:
            parser.error("with --walk s3, every SRC is s3://BUCKET[/PREFIX]")
        args.walk = "s3"
    if args.files_from is not None and args.sources:
        parser.error("give SRC arguments or --files-from, not both")
    if args.files_from is None and not args.sources:
        parser.error("nothing to walk: give at least one SRC, or --files-from FILE")
    if args.null and args.files_from is None:
        parser.error("--null only applies to --files-from")


def _patterns(parser: argparse.ArgumentParser, flag: str, names: list[str]) -> list[str]:
    """The patterns of each file of ``flag`` in turn (``-`` is stdin); one unreadable exits 2."""
    patterns: list[str] = []
    for name in names:
        try:
            if name == ndjson.STDIN:
                if stdin_is_closed([name]):
                    parser.error(f"{flag} -: standard input is closed")
                data = sys.stdin.buffer.read()
            else:
                data = Path(name).read_bytes()
        except OSError as exc:
            parser.error(f"cannot read {flag} {name}: {exc.strerror or exc}")
        patterns += read_patterns(os.fsdecode(data).splitlines())
    return patterns


def _shard(text: str) -> Shard:
    """An argparse ``type`` for ``--shard I/N`` (bad ones exit 2)."""
    try:
        return Shard.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``s3pput-walk`` and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    require_stdout(parser)
    options = walk_options(parser, args, s3_sources=True)
    log_file = setup_logging(args)
    if args.files_from is not None and stdin_is_closed([args.files_from]):
        return stop_fatally(STAGE, "standard input is closed: --files-from - has no list to read")
    try:
        return run(lambda: _walk(args, options), stage=STAGE)
    finally:
        if log_file is not None:
            log_file.close()


def _walk(args: argparse.Namespace, options: WalkOptions) -> int:
    """Write the records of the walk to stdout; return the exit status."""
    if args.walk == "s3":
        return _emit(_s3_records(args, options), ndjson.RecordWriter(sys.stdout.buffer))
    if args.walk == "tar":
        from s3pput.walk.tar_members import iter_archives  # noqa: PLC0415  # tarfile only for archives

        writer = ndjson.RecordWriter(sys.stdout.buffer)
        if args.count:
            writer.write(total_record(iter_archives(args.sources, options)))
        return _emit(iter_archives(args.sources, options), writer)
    if args.files_from is None:
        writer = ndjson.RecordWriter(sys.stdout.buffer)
        if args.count:
            writer.write(total_record(iter_batches(args.sources, options)))
        return _emit(iter_batches(args.sources, options, before_scan=writer.flush), writer)
    name = args.files_from
    try:
        fd = sys.stdin.fileno() if name == ndjson.STDIN else os.open(name, os.O_RDONLY)
    except OSError as exc:
        return _list_unreadable(name, str(exc))
    try:
        writer = ndjson.RecordWriter(sys.stdout.buffer)
        paths = split_paths(_chunks(fd, before_read=writer.flush), null=args.null)
        return _emit(iter_batches_from(paths, options, before_scan=writer.flush), writer)
    except _ListReadError as exc:
        return _list_unreadable(name, str(exc))
    finally:
        if name != ndjson.STDIN:
            os.close(fd)


def listed_paths(name: str, *, null: bool) -> Iterator[str]:
    """The paths of a ``--files-from`` list (``-`` is stdin) as they arrive, for ``s3pput``.

    A list that cannot be opened or read raises InputError: one line, exit 2.
    """
    try:
        fd = sys.stdin.fileno() if name == ndjson.STDIN else os.open(name, os.O_RDONLY)
    except OSError as exc:
        raise InputError(f"cannot read --files-from {name}: {exc.strerror or exc}") from None
    try:
        yield from split_paths(_chunks(fd, before_read=lambda: None), null=null)
    except _ListReadError as exc:
        raise InputError(f"cannot read --files-from {name}: {exc}") from None
    finally:
        if name != ndjson.STDIN:
            os.close(fd)


def _s3_records(args: argparse.Namespace, options: WalkOptions) -> Iterator[Record]:
    """The records of the s3:// SRCs, from a client made from --endpoint-url and --profile."""
    from s3pput.transport.clients import ClientOptions, make_client  # noqa: PLC0415  # boto3 only for S3 sources
    from s3pput.walk.s3_sources import s3_records  # noqa: PLC0415  # see above

    client = make_client(ClientOptions(endpoint_url=args.endpoint_url, profile=args.profile))
    return s3_records(client, args.sources, options)


def _list_unreadable(name: str, error: str) -> int:
    """Say that the --files-from list cannot be read (no traceback: the error says it all)."""
    log.get_logger(STAGE).error("cannot read --files-from", file=name, error=error)
    write_stop_record(STAGE, f"cannot read --files-from {name}: {error}")
    return EXIT_USAGE


def _chunks(fd: int, before_read: Callable[[], None]) -> Iterator[bytes]:
    """Read whatever has arrived, so each path is walked as soon as its line ends.

    ``before_read`` passes on the records held, since the read may wait.
    """
    while True:
        before_read()
        try:
            chunk = os.read(fd, _READ_SIZE)
        except OSError as exc:
            raise _ListReadError(str(exc)) from None
        if not chunk:
            return
        yield chunk


def _emit(items: Iterable[Record | FileBatch], out: ndjson.RecordWriter) -> int:
    """Write every record (batched, flushed before each directory is read); exit 1 on failures."""
    files = failed = 0
    with StopRequest().handling() as stop:
        for item in items:
            if isinstance(item, FileBatch):
                out.write_lines(item.lines())
                files += len(item)
            else:
                out.write(item)
                if item.status == "failed":
                    failed += 1
                else:
                    files += 1
            if stop.requested:
                break
        out.flush()
    if stop.requested:
        log.get_logger(STAGE).warning("walk stopped", files=files, failed=failed)
        return EXIT_INTERRUPTED
    log.get_logger(STAGE).info("walk done", files=files, failed=failed)
    return EXIT_FAILED if failed else EXIT_OK
