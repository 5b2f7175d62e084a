"""``s3pput-walk --count``: the total record a first pass over the sources writes.

Walk reads its sources twice: once to count the files and their bytes,
written as one record (``{"total_files": N, "total_bytes": B}``) before the
file records, so stat can show how far a run is and when it will end. This
module must not know where records are written nor which command asked.
"""

from __future__ import annotations

from collections.abc import Iterable

from s3pput import log
from s3pput.records import Record
from s3pput.walk.batches import FileBatch

__all__ = ["files_and_bytes", "total_record"]


def total_record(items: Iterable[Record | FileBatch]) -> Record:
    """The total record of a first pass: file records (failures are not files) and their bytes.

    The pass logs nothing: the walk that writes the records reports each
    unreadable file, and it must be reported once, not once per pass.
    """
    files = size = 0
    with log.muted():
        for item in items:
            more_files, more_bytes = files_and_bytes(item)
            files += more_files
            size += more_bytes
    return Record(total_files=files, total_bytes=size)


def files_and_bytes(item: Record | FileBatch) -> tuple[int, int]:
    """How many files one item of a walk is, and their bytes: a failed record is no file."""
    if isinstance(item, FileBatch):
        return len(item), item.bytes()
    if item.status == "failed":
        return 0, 0
    return 1, item.size or 0
