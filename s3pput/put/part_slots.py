"""How many parts may be in flight across every upload of a run, by count and by bytes.

The native client holds each part's body in memory while it sends it, so
parts in flight are bounded for the whole run, not per file. Only the
bound: what is sent, and when, is parts.py's.
"""

from __future__ import annotations

import threading
from typing import Final

from s3pput.units import MiB

__all__ = ["MAX_SLOTS", "PART_MEMORY", "WAIT_STEP", "PartSlots"]

PART_MEMORY: Final = 64 * MiB
"""Bytes of parts in flight across the run: the native client buffers each part it sends."""
MAX_SLOTS: Final = 8
"""Parts in flight at most, whatever their size. A 1 GiB file reached the local
server's ceiling (~180 MB/s here) with 8 parts of 8 MiB in flight."""
WAIT_STEP: Final = 1.0


class PartSlots:
    """Parts in flight across all uploads of a run, bounded by count and by bytes."""

    def __init__(self, memory: int = PART_MEMORY, most: int = MAX_SLOTS) -> None:
        self._memory = memory
        self._most = most
        self._used = 0
        self._bytes = 0
        self._changed = threading.Condition()

    def take(self, size: int, stop: threading.Event) -> bool:
        """Wait for room for a part of ``size`` bytes; False if ``stop`` was set meanwhile.

        One part always fits when nothing is in flight, whatever its size.
        """
        with self._changed:
            while self._used and (self._used >= self._most or self._bytes + size > self._memory):
                if stop.is_set():
                    return False
                self._changed.wait(WAIT_STEP)
            if stop.is_set():
                return False
            self._used += 1
            self._bytes += size
            return True

    def give(self, size: int) -> None:
        """Hand back a part's room."""
        with self._changed:
            self._used -= 1
            self._bytes -= size
            self._changed.notify_all()
