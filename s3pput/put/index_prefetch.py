"""Listings started ahead of the questions, on a few threads of their own.

Records are read ahead of their uploads; telling the index of each as it is
read starts its directory's listing early, so that the listing's round trip
overlaps the uploads before it. Only the queue and its threads: what
learning a directory means is the index's (bucket_index.py).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable

from s3pput.put.index_limits import PREFETCH_THREADS
from s3pput.put.index_listings import parent_prefix

__all__ = ["Prefetcher"]


class Prefetcher:
    """Learn directories in the background: each once while queued, ``most`` queued at once."""

    def __init__(self, learn: Callable[[str], object], most: int) -> None:
        self._learn = learn
        self._most = most
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._threads = 0
        self._queued: set[str] = set()
        self._last = ""

    def prefetch(self, key: str) -> None:
        """Start learning the directory of ``key`` in the background, unless it is queued.

        Called as records are read, ahead of their uploads, so that the
        listing's round trip overlaps the uploads before it. A listing that
        fails here is simply not kept; the lookup then lists again and
        reports the error.
        """
        prefix = parent_prefix(key)
        if prefix == self._last:
            return
        self._last = prefix
        with self._lock:
            if prefix in self._queued or len(self._queued) >= self._most:
                return
            self._queued.add(prefix)
            start_thread = self._threads < PREFETCH_THREADS
            self._threads += start_thread
        self._queue.put(prefix)
        if start_thread:
            threading.Thread(target=self._loop, name="s3pput-list", daemon=True).start()

    def _loop(self) -> None:
        while True:
            prefix = self._queue.get()
            # A listing that fails is not kept: the lookup lists again and reports it.
            with contextlib.suppress(Exception):
                self._learn(prefix)
            with self._lock:
                self._queued.discard(prefix)
