"""``s3pput-local-s3``: run the throwaway S3 server in the foreground for a demo or a script.

It parses the command line, starts ``LocalS3``, makes the buckets asked for
and prints the settings that reach it, then waits for Ctrl-C. How the server
is started and stopped is ``s3pput.sandbox.local_s3``'s business, not this
module's; no stage imports either.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from s3pput import __version__
from s3pput.cli._common import EXIT_USAGE, CommandParser, run
from s3pput.sandbox.local_s3 import LocalS3, LocalS3Error

__all__ = ["build_parser", "main"]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 600) so that a reader sees all of it or no file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.touch(mode=0o600)
    partial.write_text(text)
    partial.replace(path)


def build_parser() -> argparse.ArgumentParser:
    """The command line (also what its manual page and shell completion are made from)."""
    parser = CommandParser(
        prog="s3pput-local-s3",
        description="Start a throwaway SeaweedFS S3 server on loopback and print its settings.",
    )
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket")
    parser.add_argument("--env-file", help="also write the settings to this file (mode 600)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a local S3 server in the foreground until Ctrl-C; print how to reach it."""
    args = build_parser().parse_args(argv)
    return run(lambda: _serve_or_say_why_not(args))  # Ctrl-C or SIGTERM while it starts: 130


def _serve_or_say_why_not(args: argparse.Namespace) -> int:
    """Serve; a server that cannot start (no weed) is one line and exit 2, nothing left behind."""
    try:
        return _serve(args)
    except LocalS3Error as exc:
        return _fail(str(exc))


def _serve(args: argparse.Namespace) -> int:
    """Start the server, make the buckets, say how to reach it, and wait for Ctrl-C.

    The env file exists exactly while the server it names is ready: a file
    left by an earlier run is removed first (a script waiting for the file
    would start too soon), it is written last (after the buckets), and
    removed when the server stops.
    """
    env_file = Path(args.env_file) if args.env_file else None
    if env_file is not None:
        try:
            env_file.unlink(missing_ok=True)
        except OSError as exc:
            return _fail(f"cannot replace --env-file {env_file}: {exc.strerror}")
    with LocalS3() as server:
        failure = _make_buckets(server, args.bucket)
        if failure is not None:
            return _fail(failure)
        exports = "".join(f"export {k}={v}\n" for k, v in server.env().items())
        try:
            if env_file is not None:
                try:
                    _write_private(env_file, exports)
                except OSError as exc:
                    return _fail(f"cannot write --env-file {env_file}: {exc.strerror}")
            sys.stdout.write(exports)
            sys.stdout.flush()
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            if env_file is not None:  # the server stops: the file would point at nothing
                env_file.unlink(missing_ok=True)
    return 0


def _make_buckets(server: LocalS3, buckets: list[str]) -> str | None:
    """Create each bucket; the reason the first one failed, or None."""
    if not buckets:
        return None
    from s3pput.transport.errors import code_and_message, request_errors  # noqa: PLC0415  # only buckets need boto3

    client = server.client()
    for bucket in buckets:
        try:
            client.create_bucket(Bucket=bucket)
        except request_errors() as exc:
            return f"cannot create bucket {bucket!r}: {code_and_message(exc)}"
    return None


def _fail(reason: str) -> int:
    """Say why on one line of stderr; the status of a usage or setup error."""
    sys.stderr.write(f"s3pput-local-s3: {reason}\n")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
