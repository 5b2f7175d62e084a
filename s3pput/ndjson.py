"""Reading and writing NDJSON record streams: ``-`` is stdin, blank lines are skipped."""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO, Final

from s3pput.errors import InputError, OutputError, RecordError
from s3pput.records import Record, from_json, invalid_line, to_json

__all__ = [
    "STDIN",
    "RecordWriter",
    "in_batches",
    "read_lines",
    "read_record_batches",
    "write_all",
    "write_record",
    "write_records",
]

STDIN = "-"
READ_BYTES: Final = 1 << 16
"""One read of the input: a batch is every whole line it completes."""


def read_lines(sources: Iterable[str]) -> Iterator[tuple[str, int, bytes]]:
    """Yield ``(source, line_number, line)`` for every non-blank line, newline stripped.

    A last line without its newline is still a line. Files are read as bytes
    so that a line which is not UTF-8 reaches the parser, which reports it.
    """
    for source in sources:
        if source == STDIN:
            yield from _lines(STDIN, sys.stdin.buffer)
        else:
            with open(source, "rb") as stream:
                yield from _lines(source, stream)


def _lines(source: str, stream: BinaryIO) -> Iterator[tuple[str, int, bytes]]:
    for number, line in enumerate(stream, start=1):
        stripped = line.rstrip(b"\r\n")
        if stripped.strip():
            yield source, number, stripped


def read_record_batches(
    sources: Iterable[str],
    stage: str,
    check: Callable[[Record], str | None] | None = None,
) -> Iterator[list[Record]]:
    """Parse every line, a list per read of the input: whatever lines had arrived.

    A line that is not a record becomes a failed record. ``check`` lets a
    stage refuse records it cannot use (put needs a path) while the line
    number is still known: it returns why, or None. Reading 64 KiB at a time
    and parsing every whole line in it costs one hand-over per few hundred
    records under load, yet a record that arrives alone is passed on at once.
    """
    for source in sources:
        try:
            if source == STDIN:
                yield from _batches(STDIN, sys.stdin.buffer.fileno(), stage, check)
            else:
                with open(source, "rb") as stream:
                    yield from _batches(source, stream.fileno(), stage, check)
        except OSError as exc:
            raise InputError(f"{source}: {exc.strerror or exc}") from exc


def _batches(
    source: str, fd: int, stage: str, check: Callable[[Record], str | None] | None
) -> Iterator[list[Record]]:
    pending = bytearray()
    number = 0
    while True:
        chunk = os.read(fd, READ_BYTES)
        if not chunk and not pending:
            return
        pending += chunk
        end = len(pending) if not chunk else pending.rfind(b"\n") + 1
        lines = bytes(pending[:end]).split(b"\n")
        del pending[:end]
        if chunk:
            lines.pop()  # the empty string after the last newline
        batch = []
        for line in lines:
            number += 1
            stripped = line.rstrip(b"\r")
            if stripped.strip():
                batch.append(_parse(source, number, stripped, stage, check))
        yield batch
        if not chunk:
            return


def _parse(
    source: str, number: int, line: bytes, stage: str, check: Callable[[Record], str | None] | None
) -> Record:
    """The record on a line, or a failed record that says why the line is not one."""
    where = "" if source == STDIN else f"{source}: "
    try:
        record = from_json(line)
    except RecordError as exc:
        return invalid_line(line, number, stage, f"{where}{exc}")
    problem = check(record) if check is not None else None
    if problem is None:
        return record
    failed = record.cleared().failed(stage, f"{where}line {number}: {problem}")
    return failed.evolve(line=number)


def in_batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    """Group records in lists of ``size`` (the last may be shorter)."""
    iterator = iter(records)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def write_record(stream: BinaryIO, record: Record, *, flush: bool = True) -> None:
    """Write one record as a whole line and flush it, so the next stage sees it now.

    ``flush=False`` is for a writer that knows more lines follow at once and
    flushes before it waits (put under load): lines are never held back idle.
    """
    write_all(stream, to_json(record), flush=flush)


class RecordWriter:
    """Write records in batches: one write per 64 KiB, or per 20 ms while records keep coming.

    A write per record costs the writer a system call and wakes the reader for
    one line each time (for 10,000 small files, about a second of CPU across a
    pipeline). ``flush`` passes on what is held; call it before anything that
    may block, and at the end.
    """

    def __init__(self, stream: BinaryIO, max_bytes: int = 1 << 16, max_delay: float = 0.02) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._max_delay = max_delay
        self._held: list[bytes] = []
        self._size = 0
        self._since = 0.0

    def write(self, record: Record) -> None:
        """Hold one record's line; write what is held when it is enough, or old enough."""
        self.write_lines(to_json(record))

    def write_lines(self, lines: bytes) -> None:
        """Hold whole lines already made (walk makes a directory's at once), as ``write``."""
        if not self._held:
            self._since = time.monotonic()
        self._held.append(lines)
        self._size += len(lines)
        if self._size >= self._max_bytes or time.monotonic() - self._since >= self._max_delay:
            self.flush()

    def flush(self) -> None:
        """Write and flush every line held."""
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._size = 0
            write_all(self._stream, data)


def write_records(stream: BinaryIO, records: Iterable[Record]) -> None:
    """Write records with one write and one flush: a batch of results under load."""
    write_all(stream, b"".join(map(to_json, records)))


def write_all(stream: BinaryIO, data: bytes, *, flush: bool = True) -> None:
    """Write every byte, then flush; a short write is retried, never dropped.

    When the reader goes away in the middle of a large write, the kernel
    reports a short write and CPython's buffered ``write`` passes the short
    count on without an error. Writing the rest is what raises
    BrokenPipeError, so the pipe's end is noticed instead of output vanishing.
    Any other failure to write (ENOSPC, EIO) raises OutputError.
    """
    view = memoryview(data)
    try:
        while view:
            written = stream.write(view)
            view = view[written:]
        if flush:
            stream.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise OutputError(exc.strerror or str(exc)) from exc
