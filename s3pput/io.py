"""Reading and writing NDJSON record streams: ``-`` is stdin, blank lines are skipped."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from s3pput.records import Record, RecordError, from_json, invalid_line, to_json

__all__ = ["STDIN", "read_lines", "read_records", "write_record"]

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


def read_records(sources: Iterable[str], stage: str) -> Iterator[Record]:
    """Parse every line; a line that is not a record becomes a failed record."""
    for source, number, line in read_lines(sources):
        try:
            yield from_json(line)
        except RecordError as exc:
            where = "" if source == STDIN else f"{source}: "
            yield invalid_line(line, number, stage, f"{where}{exc}")


def write_record(stream: BinaryIO, record: Record) -> None:
    """Write one record as a whole line and flush it, so the next stage sees it now."""
    stream.write(to_json(record))
    stream.flush()
