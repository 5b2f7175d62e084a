"""s3pput-put: read file records, upload them in parallel, write one result per record.

This module parses the command line, checks the flags together into the
frozen ``RunOptions``, hands them to ``s3pput.put.run`` and turns how the
run ended into an exit status. Which records are sent, skipped or failed,
and how, is the put stage's business: nothing here decides it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from s3pput import log
from s3pput.cli import _common
from s3pput.cli.put_arguments import add_put_arguments, default_workers
from s3pput.errors import BucketError, HeaderError, UploadsUnlistableError
from s3pput.ndjson import STDIN, write_all, write_records
from s3pput.put.checksum_cache import default_cache_path
from s3pput.put.content_type import gzip_types
from s3pput.put.headers import parse_headers, parse_metadata
from s3pput.put.incomplete import abort_incomplete
from s3pput.put.lane import Outcome
from s3pput.put.options import PutOptions
from s3pput.put.run import RunOptions, make_uploaders, put_all, read_input, sends_nothing
from s3pput.transport.clients import ClientOptions, has_credentials, make_client
from s3pput.transport.customer_key import KEY_BYTES, CustomerKey
from s3pput.transport.errors import describe_error, request_errors
from s3pput.transport.retry import RetryPolicy
from s3pput.units import COPY_LIMIT, MIN_PART

__all__ = ["build_parser", "main"]


_log = log.get_logger("put")
_STDIN_CLOSED = "standard input is closed: give the records on stdin or as FILE arguments"

EPILOG = """\
input: NDJSON records, one per line, as s3pput-walk writes them (at least "path";
"key" defaults to the path without a leading ./ or /). Every field is kept in the
output, which adds status (uploaded|skipped|failed|planned), error, etag, bytes,
content_type, content_encoding, md5, seconds and ts. Feed put its own output to
replay it: old results are replaced.

exit status: 0 all records uploaded/skipped/planned, 1 any record failed (or the
reader went away before every result was written), 2 usage error, 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    """The put command line, including every upload option of s3-parallel-put."""
    parser = _common.StageParser(
        "put",
        prog="s3pput-put",
        description="Upload the files named by NDJSON records to S3, in parallel.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_put_arguments(parser)
    parser.add_argument(
        "--abort-incomplete",
        metavar="PREFIX",
        help="abort the unfinished multipart uploads under PREFIX in --bucket (with --dry-run, "
        "only list them), print how many, and exit; no records are read",
    )
    parser.add_argument(
        "files",
        nargs="*",
        default=[STDIN],
        metavar="FILE",
        help="record files to read (default: - for stdin)",
    )
    _common.add_logging_options(parser)
    return parser


def _customer_key(args: argparse.Namespace, parser: argparse.ArgumentParser) -> CustomerKey | None:
    """``--sse-c`` and ``--sse-c-key``, checked together as aws checks them; None without."""
    if args.sse_c is None and args.sse_c_key is None:
        return None
    if args.sse_c is None or args.sse_c_key is None:
        parser.error("--sse-c and --sse-c-key go together")
    sse = any(item.lower().startswith("x-amz-server-side-encryption:") for item in args.header)
    if sse or args.encrypt_key:
        parser.error("--sse-c cannot go with --sse or --encrypt-key: S3 takes one encryption")
    given: str = args.sse_c_key
    if given.startswith("fileb://"):
        try:
            key = Path(given.removeprefix("fileb://")).expanduser().read_bytes()
        except OSError as exc:
            parser.error(f"cannot read --sse-c-key: {exc.strerror}: {exc.filename}")
    else:
        key = given.encode()
    if len(key) != KEY_BYTES:
        parser.error(f"--sse-c-key must be {KEY_BYTES} bytes for AES256, not {len(key)}")
    return CustomerKey(key, args.sse_c)


def options_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> RunOptions:
    """Check flags together and build options; report problems as usage errors."""
    try:
        headers = parse_headers(args.header)
        metadata = {**headers.metadata, **parse_metadata(args.metadata)}
    except HeaderError as exc:
        parser.error(str(exc))
    if args.part_size < MIN_PART:
        parser.error("--part-size must be at least 5M (S3's minimum part size)")
    if not MIN_PART <= args.copy_threshold <= COPY_LIMIT:
        parser.error("--copy-threshold must be between 5M and 5G (S3's limits)")
    parameters = dict(headers.parameters)
    customer_key = _customer_key(args, parser)
    if customer_key is not None:
        parameters["SSECustomerAlgorithm"] = customer_key.algorithm  # the key stays in transport
    if args.grant:
        parameters["ACL"] = args.grant
    if args.encrypt_key:
        parameters["ServerSideEncryption"] = "AES256"
    if args.storage_class:
        parameters["StorageClass"] = args.storage_class
    endpoint = args.endpoint_url
    if endpoint is None and args.host:
        endpoint = f"{'http' if args.insecure else 'https'}://{args.host}"
    verify: bool | str = args.ca_bundle or True
    if args.insecure:
        verify = False
    return RunOptions(
        put=PutOptions(
            bucket=args.bucket,
            mode=args.mode,
            compare=args.compare,
            content_type=args.content_type,
            gzip=args.gzip,
            gzip_types=gzip_types(args.gzip_type),
            parameters=parameters,
            metadata=metadata,
            raw_headers=headers.raw,
            dry_run=args.dry_run,
            allow_control_keys=args.allow_control_keys,
            multipart_threshold=max(args.multipart_threshold, 0),
            part_size=args.part_size,
            source_bucket=args.source_bucket,
            copy_threshold=args.copy_threshold,
        ),
        client=ClientOptions(
            endpoint_url=endpoint,
            region=args.region,
            profile=args.profile,
            verify=verify,
            addressing_style=args.addressing_style,
            max_connections=args.jobs * 2 + 4,
            extra_headers=headers.raw,
            customer_key=customer_key,
            retry=RetryPolicy(
                args.retries,
                args.retry_window,
                args.timeout,
                max_requests=args.max_requests,
                max_bandwidth=args.max_bandwidth or None,
            ),
        ),
        jobs=args.jobs,
        files=tuple(getattr(args, "files", ())),
        cache=None if args.no_cache else Path(args.cache) if args.cache else default_cache_path(),
        checksum=args.checksum,
        workers=default_workers() if args.workers is None else args.workers,
    )


def exit_status(outcome: Outcome) -> int:
    """The exit status of a put run; a reader that went away is EXIT_BROKEN_PIPE.

    That one also points stdout at /dev/null, so the final flush cannot fail.
    """
    if outcome.ended == "interrupted":
        return _common.EXIT_INTERRUPTED
    if outcome.ended == "output closed":
        _common.close_stdout_quietly()
        return _common.EXIT_BROKEN_PIPE
    return _common.EXIT_FAILED if outcome.failed else _common.EXIT_OK


def upload_records(options: RunOptions) -> int:
    """Check the bucket, run the uploads and write results to stdout; return the exit status."""
    uploader, pool = make_uploaders(options)
    out = sys.stdout.buffer
    try:
        outcome = put_all(
            uploader,
            read_input(options.files, options.put),
            lambda results: write_records(out, results),
            jobs=options.jobs,
            pool=pool,
        )
    except BucketError as exc:
        return _common.stop_fatally("put", str(exc))
    status = exit_status(outcome)
    if status in {_common.EXIT_INTERRUPTED, _common.EXIT_BROKEN_PIPE}:
        exit_now(_common.EXIT_FAILED if status == _common.EXIT_BROKEN_PIPE else status)
    return status


def abort_uploads(options: RunOptions, prefix: str) -> int:
    """--abort-incomplete: abort (or list) unfinished multipart uploads; say how many."""
    client = make_client(options.client)
    verb = "would abort" if options.put.dry_run else "aborted"
    count = 0
    try:
        for upload in abort_incomplete(
            client, options.put.bucket, prefix, dry_run=options.put.dry_run
        ):
            count += 1
            _log.info(verb, key=upload.key, upload_id=upload.upload_id)
    except UploadsUnlistableError as exc:
        _log.error("cannot abort incomplete uploads", prefix=prefix, error=str(exc))
        return _common.EXIT_USAGE
    except request_errors() as exc:
        _log.error("cannot abort incomplete uploads", prefix=prefix, error=describe_error(exc))
        return _common.EXIT_FAILED
    line = f"{verb} {count} incomplete uploads under {prefix!r} in {options.put.bucket}\n"
    write_all(sys.stdout.buffer, line.encode())
    return _common.EXIT_OK


def exit_now(code: int) -> None:
    """Exit at once: uploads still running in daemon threads are abandoned on purpose."""
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of s3pput-put."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _common.require_stdout(parser)
    log_file = _common.setup_logging(args)
    options = options_from_args(args, parser)
    for name in options.files:
        if name != STDIN and not Path(name).is_file():
            parser.error(f"no such record file: {name}")
    if not sends_nothing(options.put) and not has_credentials(options.client):
        return _common.stop_fatally(
            "put", "no AWS credentials found (environment, profile, or instance role)"
        )
    if args.abort_incomplete is not None:
        return _common.run(lambda: abort_uploads(options, args.abort_incomplete))
    if _common.stdin_is_closed(options.files):
        return _common.stop_fatally("put", _STDIN_CLOSED)
    _common.say_if_waiting_on_a_terminal(parser.prog, options.files, "file records")
    try:
        return _common.run(
            lambda: upload_records(options), broken_pipe_code=_common.EXIT_FAILED, stage="put"
        )
    finally:
        if log_file is not None:
            log_file.close()


if __name__ == "__main__":
    sys.exit(main())
