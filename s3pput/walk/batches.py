"""A directory's plain files as one item of the walk, and ``--shard``/``--limit`` over them.

Walk spends a few microseconds on each file; a Record object and a ``to_json``
call per file cost as much again. A ``FileBatch`` is the files of one
directory (name, size, mtime each), written as lines in one go by
``record_lines.file_lines`` and made into records only for a consumer that wants
records. Shard and limit apply to batches as they would to their records.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from s3pput.records import Record, to_json
from s3pput.walk.record_lines import FileEntry, file_lines
from s3pput.walk.scan import Directory
from s3pput.walk.shard import Shard

__all__ = ["FileBatch", "records_of", "select"]


class FileBatch:
    """Plain file records from one directory, in order, without a Record per file until asked.

    Every path is UTF-8 (the others come as records of their own, with a
    warning), so a file's key is the directory's key and its name.
    """

    __slots__ = ("directory", "files")

    def __init__(self, directory: Directory, files: list[FileEntry]) -> None:
        self.directory = directory
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def lines(self) -> bytes:
        """The records' lines, as ``to_json`` writes them."""
        lines = file_lines(self.directory.prefix, self.directory.key_prefix, self.files)
        return lines if lines is not None else b"".join(map(to_json, self.records()))

    def records(self) -> Iterator[Record]:
        """The records, one at a time."""
        prefix, key = self.directory.prefix, self.directory.key_prefix
        for name, size, mtime in self.files:
            if size is None or mtime is None:
                yield Record(path=prefix + name, key=key + name)
            else:
                yield Record.of_file(prefix + name, key + name, size, mtime)

    def bytes(self) -> int:
        """The files' sizes added up (0 for sizes not read)."""
        return sum(size or 0 for _, size, _ in self.files)

    def head(self, count: int) -> FileBatch:
        """The first ``count`` files."""
        return FileBatch(self.directory, self.files[:count])

    def kept(self, shard: Shard) -> FileBatch:
        """The files ``shard`` takes."""
        held = [shard.holds(record) for record in self.records()]
        return FileBatch(self.directory, list(itertools.compress(self.files, held)))


def records_of(items: Iterable[Record | FileBatch]) -> Iterator[Record]:
    """Every record, a FileBatch's one by one."""
    for item in items:
        if isinstance(item, FileBatch):
            yield from item.records()
        else:
            yield item


def select(
    items: Iterable[Record | FileBatch], shard: Shard | None, limit: int | None
) -> Iterator[Record | FileBatch]:
    """The records and files ``shard`` keeps, up to ``limit`` file records (failures pass free).

    Nothing past the limit is even looked at: the walk stops there.
    """
    left = limit
    if left is not None and left <= 0:
        return
    for item in items:
        if isinstance(item, FileBatch):
            batch = item if shard is None else item.kept(shard)
            if left is not None and len(batch) >= left:
                yield batch.head(left)
                return
            if left is not None:
                left -= len(batch)
            if batch.files:
                yield batch
        elif shard is None or shard.holds(item):
            yield item
            if left is not None and item.status != "failed":
                left -= 1
                if left == 0:
                    return
