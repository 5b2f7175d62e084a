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
        sys.stderr.write(f"s3pput-local-s3: {exc}\n")
        return EXIT_USAGE


def _serve(args: argparse.Namespace) -> int:
    """Start the server, make the buckets, say how to reach it, and wait for Ctrl-C."""
    with LocalS3() as server:
        exports = "".join(f"export {k}={v}\n" for k, v in server.env().items())
        if args.bucket:
            from s3pput.transport.errors import code_and_message, request_errors  # noqa: PLC0415  # only this branch needs it

            client = server.client()
            for bucket in args.bucket:
                try:
                    client.create_bucket(Bucket=bucket)
                except request_errors() as exc:
                    sys.stderr.write(
                        f"s3pput-local-s3: cannot create bucket {bucket!r}: "
                        f"{code_and_message(exc)}\n"
                    )
                    return EXIT_USAGE
        if args.env_file:  # last, and whole: the file appearing means the buckets are there
            _write_private(Path(args.env_file), exports)
        sys.stdout.write(exports)
        sys.stdout.flush()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    sys.exit(main())
