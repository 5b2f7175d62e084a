"""``s3pput-local-s3``: run the throwaway S3 server in the foreground for a demo or a script.

It parses the command line, starts ``LocalS3``, makes the buckets asked for
and prints the settings that reach it, then waits for Ctrl-C. How the server
is started and stopped is ``s3pput.sandbox.local_s3``'s business, not this
module's; no stage imports either.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from s3pput.cli._common import CommandParser
from s3pput.sandbox.local_s3 import LocalS3

__all__ = ["main"]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 600) so that a reader sees all of it or no file."""
    partial = path.with_name(f".{path.name}.partial")
    partial.touch(mode=0o600)
    partial.write_text(text)
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Run a local S3 server in the foreground until Ctrl-C; print how to reach it."""
    parser = CommandParser(
        prog="s3pput-local-s3",
        description="Start a throwaway SeaweedFS S3 server on loopback and print its settings.",
    )
    parser.add_argument("--bucket", action="append", default=[], help="create this bucket")
    parser.add_argument("--env-file", help="also write the settings to this file (mode 600)")
    args = parser.parse_args(argv)
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
                    return 2
        if args.env_file:  # last, and whole: the file appearing means the buckets are there
            _write_private(Path(args.env_file), exports)
        sys.stdout.write(exports)
        sys.stdout.flush()
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    return 0


if __name__ == "__main__":
    sys.exit(main())
