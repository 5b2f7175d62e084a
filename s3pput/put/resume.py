"""``s3pput --resume FILE``: keys an earlier run finished are reported skipped, without asking S3.

The one-command ``s3pput`` reads the records of earlier runs (their
``--output``), keeps the keys those runs uploaded or skipped, and answers
a new record for such a key at once, as skipped with reason "resumed".
This module must not know where the files were named (argv) nor how the
results are written; it knows records and the uploader's per-record steps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Final

from s3pput import log, ndjson
from s3pput.errors import RecordError
from s3pput.put.lane import Lane, NativeDone, Started
from s3pput.put.uploader import Uploader
from s3pput.records import Record, from_json

__all__ = ["DONE_STATUSES", "Resuming", "done_keys", "resumed"]

DONE_STATUSES: Final = frozenset({"uploaded", "skipped"})
_log = log.get_logger("s3pput")


def done_keys(files: Iterable[str]) -> set[str]:
    """Keys that earlier runs uploaded or found unchanged; bad lines are ignored with a warning."""
    keys: set[str] = set()
    for source, number, line in ndjson.read_lines(files):
        try:
            record = from_json(line)
        except RecordError as exc:
            _log.warning(
                "resume file line is not a record", file=source, line=number, error=str(exc)
            )
            continue
        if record.status in DONE_STATUSES and record.key is not None:
            keys.add(record.key)
    return keys


def resumed(record: Record, bucket: str, now: float) -> Record:
    """The result of a record whose key an earlier run finished: skipped, stamped as put stamps one.

    Like every result put writes, it names the bucket and when it was
    recorded (``ts``), and took no time (``seconds``), so stat times a run
    that resumes as it times any other.
    """
    return record.evolve(
        status="skipped", reason="resumed", bytes=0, bucket=bucket, seconds=0.0, ts=round(now, 6)
    )


class Resuming:
    """The uploader's steps, where keys that --resume files call done are skipped first."""

    def __init__(
        self,
        uploader: Uploader,
        done: set[str],
        wall: Callable[[], float] = time.time,
        *,
        lane: Lane | None = None,
    ) -> None:
        self.uploader = uploader
        self.lane: Lane = lane or uploader
        """Where the other records go: the uploader, or the lane to put's worker processes."""
        self.done = done
        self.wall = wall
        self.process = self.lane.process
        self.interrupted = self.lane.interrupted
        self.crashed = self.lane.crashed

    def begin(self, record: Record, done: NativeDone) -> Started | Record | None:
        """Answer a record whose key is done at once; start any other as the uploader does."""
        if record.key in self.done and record.status is None:
            return resumed(record, self.uploader.options.bucket, self.wall())
        return self.lane.begin(record, done)
