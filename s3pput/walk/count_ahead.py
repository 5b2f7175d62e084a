"""Counting the files of a walk on a thread while the same walk uploads them, as rclone does.

The one-command ``s3pput`` shows an ETA without ``--count``: a second walk
of the same sources, with the same options (filters, shard, limit), runs on
a daemon thread and keeps a running count of files and bytes, which the
live progress line reads (``stat.live_tally.Expected``). It logs nothing
(the walk that uploads reports every unreadable file once), writes
nothing, and stops at the next directory when asked, or with the process.
This module must not know who reads the count nor how it is shown.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from s3pput import log
from s3pput.records import Record
from s3pput.walk.batches import FileBatch
from s3pput.walk.totals import files_and_bytes

__all__ = ["CountAhead"]


class CountAhead:
    """A running count of the files ``walk()`` yields; ``done`` once it has all of them.

    ``files``, ``bytes`` and ``done`` are read from other threads: each is
    one attribute, written by the counting thread only.
    """

    def __init__(self, walk: Callable[[], Iterable[Record | FileBatch]]) -> None:
        self.files = 0
        self.bytes = 0
        self.done = False
        self._walk = walk
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._count, name="s3pput-count", daemon=True)

    def start(self) -> CountAhead:
        """Start counting; return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop counting; the thread ends after the directory it is reading, if any.

        The thread is a daemon: a run that ends does not wait for it.
        """
        self._stop.set()

    def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the thread to end; return whether it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _count(self) -> None:
        with log.muted():
            items = iter(self._walk())
            try:
                for item in items:
                    if self._stop.is_set():
                        return
                    files, size = files_and_bytes(item)
                    self.bytes += size
                    self.files += files
                self.done = True
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # a generator's walker stops its threads reading ahead
