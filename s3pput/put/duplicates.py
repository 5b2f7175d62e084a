"""Two records for one key: the later one fails, so S3 never holds a coin toss.

``s3pput-walk d1 d2`` with ``d1/x.txt`` and ``d2/x.txt``, two SRC files
with one basename, or a file ``caf%E9.txt`` beside ``caf\\xe9.txt`` (walk
writes both as ``caf%E9.txt``) all give two records for one key. Uploading
both stores whichever finishes last, and the next run flips it. So put
remembers every key it has taken, in input order (on the reader thread),
and fails a later record for the same key with ``duplicate key (also from
PATH)``.

Memory stays flat for tens of millions of keys: a key costs one slot of an
open-addressing table, its 64-bit hash (8 bytes) and where its entry starts
in a temporary file (4 bytes), at most 70% full, so 17 to 34 bytes a key.
The key itself and the place it came from go to that (unlinked) file, read
back only when a hash matches: a match is then confirmed, so two keys that
share a hash are never taken for one. This module knows nothing of S3 or of
how a record's key is chosen; the caller says.
"""

from __future__ import annotations

import os
import struct
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from s3pput.records import Record

__all__ = ["DUPLICATE", "KeyTable", "is_duplicate", "mark_duplicates"]

DUPLICATE: Final = "duplicate key"
"""How the error of a duplicate begins (a replay passes such a record on as it is)."""
MAX_LOAD: Final = 0.7
"""Fullest the table gets before it doubles: linear probing slows down past this."""
INITIAL_SLOTS: Final = 1 << 12
ALIGN: Final = 8
"""Entries start at multiples of this in the file, so a 32-bit slot reaches 32 GiB."""
_HEADER: Final = struct.Struct("<II")
_MASK64: Final = (1 << 64) - 1
_WIDE: Final = 0xFFFFFFFF
_ENCODING: Final = "utf-8"
_ERRORS: Final = "surrogatepass"


class KeyTable:
    """The keys seen so far, each with where it came from; ``add`` says if one was seen before.

    Use it from one thread. ``close`` (or the end of the process) removes
    the temporary file.
    """

    def __init__(self, slots: int = INITIAL_SLOTS, directory: str | None = None) -> None:
        if slots < 1 or slots & (slots - 1):
            raise ValueError("slots must be a power of two")
        self._hashes = array("Q", bytes(8 * slots))
        """0 marks an empty slot; a key whose hash is 0 is stored as 1."""
        self._offsets = array("I", bytes(4 * slots))
        """Where each slot's entry starts in the file, in units of ALIGN bytes."""
        self._mask = slots - 1
        self._count = 0
        self._file = tempfile.TemporaryFile(prefix="s3pput-keys-", dir=directory)  # noqa: SIM115  # closed by close()
        self._end = 0
        """Bytes written to the file so far (some may still be in its buffer)."""

    def __len__(self) -> int:
        return self._count

    @property
    def slots(self) -> int:
        """Slots in the table now (a power of two)."""
        return self._mask + 1

    def memory(self) -> int:
        """Bytes the table's arrays hold (the file is on disk, not counted)."""
        return self._hashes.itemsize * len(self._hashes) + self._offsets.itemsize * len(
            self._offsets
        )

    def add(self, key: str, origin: str) -> str | None:
        """Remember ``key`` from ``origin``; if it was there already, return its first origin."""
        hashed = hash(key) & _MASK64 or 1
        hashes = self._hashes
        mask = self._mask
        slot = hashed & mask
        while (found := hashes[slot]) != 0:
            if found == hashed:
                first = self._entry(self._offsets[slot])
                if first[0] == key:
                    return first[1]
            slot = (slot + 1) & mask
        hashes[slot] = hashed
        self._offsets[slot] = self._append(key, origin)
        self._count += 1
        if self._count > MAX_LOAD * (mask + 1):
            self._grow()
        return None

    def close(self) -> None:
        """Remove the temporary file and free the table."""
        self._file.close()
        self._hashes = array("Q")
        self._offsets = array("I")

    def _append(self, key: str, origin: str) -> int:
        """Write one entry (lengths, key, origin, padding); return where it starts."""
        data = key.encode(_ENCODING, _ERRORS)
        source = origin.encode(_ENCODING, _ERRORS)
        entry = _HEADER.pack(len(data), len(source)) + data + source
        entry += bytes(-len(entry) % ALIGN)
        start = self._end // ALIGN
        if start > _WIDE and self._offsets.typecode == "I":
            self._offsets = array("Q", self._offsets)  # past 32 GiB of entries: wider slots
        self._file.write(entry)
        self._end += len(entry)
        return start

    def _entry(self, start: int) -> tuple[str, str]:
        """The (key, origin) written at ``start``: rare, only when two hashes match."""
        self._file.flush()
        fd = self._file.fileno()
        position = start * ALIGN
        key_size, origin_size = _HEADER.unpack(os.pread(fd, _HEADER.size, position))
        data = os.pread(fd, key_size + origin_size, position + _HEADER.size)
        return (
            data[:key_size].decode(_ENCODING, _ERRORS),
            data[key_size:].decode(_ENCODING, _ERRORS),
        )

    def _grow(self) -> None:
        """Double the slots and place every hash again (the file stays as it is)."""
        old_hashes, old_offsets = self._hashes, self._offsets
        slots = 2 * (self._mask + 1)
        mask = slots - 1
        hashes = array("Q", bytes(8 * slots))
        offsets = array(old_offsets.typecode, bytes(old_offsets.itemsize * slots))
        for hashed, start in zip(old_hashes, old_offsets, strict=True):
            if hashed:
                slot = hashed & mask
                while hashes[slot]:
                    slot = (slot + 1) & mask
                hashes[slot] = hashed
                offsets[slot] = start
        self._hashes, self._offsets, self._mask = hashes, offsets, mask


def mark_duplicates(
    batches: Iterable[list[Record]],
    key_of: Callable[[Record], tuple[str, str] | None],
    table: KeyTable | None = None,
) -> Iterator[list[Record]]:
    """Pass batches on, with each record whose key an earlier record took failed as a duplicate.

    ``key_of`` gives a record's (key, where its bytes come from), or None for
    a record that will not be sent (one passed on as it is, or failed
    already). The first record for a key wins, in input order.
    """
    table = table if table is not None else KeyTable()
    try:
        for batch in batches:
            for index, record in enumerate(batch):
                found = key_of(record)
                if found is None:
                    continue
                first = table.add(*found)
                if first is not None:
                    error = f"{DUPLICATE} (also from {_shown(first)})"
                    batch[index] = record.cleared().evolve(key=found[0]).failed("put", error)
            yield batch
    finally:
        table.close()


def _shown(origin: str) -> str:
    """A path as text for an error: bytes that were not UTF-8 as ``\\xe9``, as ``ls -b`` shows."""
    try:
        return origin.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return origin.encode("utf-8", "backslashreplace").decode("utf-8")


def is_duplicate(record: Record) -> bool:
    """Whether ``record`` is a result that failed as a duplicate (replaying it cannot help)."""
    return (
        record.status == "failed"
        and record.stage == "put"
        and (record.error or "").startswith(DUPLICATE)
    )
