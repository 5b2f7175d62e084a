"""Reading and writing NDJSON record streams: ``-`` is stdin, blank lines are skipped."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from s3pput.records import Record, RecordError, from_json, invalid_line, to_json

__all__ = ["STDIN", "read_lines", "read_records", "write_all", "write_record"]

STDIN = "-"


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


def read_records(
    sources: Iterable[str],
    stage: str,
    check: Callable[[Record], str | None] | None = None,
) -> Iterator[Record]:
    """Parse every line; a line that is not a record becomes a failed record.

    ``check`` lets a stage refuse records it cannot use (put needs a path)
    while the line number is still known: it returns why, or None.
    """
    for source, number, line in read_lines(sources):
        where = "" if source == STDIN else f"{source}: "
        try:
            record = from_json(line)
        except RecordError as exc:
            yield invalid_line(line, number, stage, f"{where}{exc}")
            continue
        problem = check(record) if check is not None else None
        if problem is None:
            yield record
        else:
            failed = record.cleared().failed(stage, f"{where}line {number}: {problem}")
            yield failed.evolve(line=number)


def write_record(stream: BinaryIO, record: Record, *, flush: bool = True) -> None:
    """Write one record as a whole line and flush it, so the next stage sees it now.

    ``flush=False`` is for a writer that knows more lines follow at once and
    flushes before it waits (put under load): lines are never held back idle.
    """
    write_all(stream, to_json(record), flush=flush)


def write_all(stream: BinaryIO, data: bytes, *, flush: bool = True) -> None:
    """Write every byte, then flush; a short write is retried, never dropped.

    When the reader goes away in the middle of a large write, the kernel
    reports a short write and CPython's buffered ``write`` passes the short
    count on without an error. Writing the rest is what raises
    BrokenPipeError, so the pipe's end is noticed instead of output vanishing.
    """
    view = memoryview(data)
    while view:
        written = stream.write(view)
        view = view[written:]
    if flush:
        stream.flush()
