"""``s3pput-walk --count``: the total record a first pass over the sources writes.

Walk reads its sources twice: once to count the files and their bytes,
written as one record (``{"total_files": N, "total_bytes": B}``) before the
file records, so stat can show how far a run is and when it will end. This
module must not know where records are written nor which command asked.
"""

from __future__ import annotations

from collections.abc import Iterable

from s3pput.records import Record
from s3pput.walk.batches import FileBatch

__all__ = ["total_record"]


def total_record(items: Iterable[Record | FileBatch]) -> Record:
    """The total record of a first pass: file records (failures are not files) and their bytes."""
    files = size = 0
    for item in items:
        if isinstance(item, FileBatch):
            files += len(item)
            size += item.bytes()
        elif item.status != "failed":
            files += 1
            size += item.size or 0
    return Record(total_files=files, total_bytes=size)
