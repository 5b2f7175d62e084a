"""Items for one end of a pipe between put's processes, sent in gathered messages.

Both directions between the reader and a worker (records one way, results
the other) would otherwise cost a wake-up and a pickle per record when
records go one at a time (a slow store, a trickle of input). A sender
thread per pipe waits GATHER_SECONDS for company unless GATHER_RECORDS
items wait already, and sends them as one ``(kind, items)`` message. It
knows nothing of what the items are.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = ["GATHER_RECORDS", "GATHER_SECONDS", "BatchedPipe"]

GATHER_SECONDS: Final = 0.002
"""How long a message waits for more records or results to go with it, when few wait."""
GATHER_RECORDS: Final = 64
"""Records (or results) that go at once, without waiting for more."""


class BatchedPipe:
    """A pipe's sending end with a thread of its own that sends queued items together.

    ``put`` queues and wakes the sender; ``add`` only queues, for a caller
    that queues a round of items and then calls ``wake`` once. ``end`` sends
    what is queued, then a last message of its own kind if given, and stops;
    the connection is closed then if ``close_at_end``. Once sending fails
    (the other process is gone), ``put`` raises BrokenPipeError.
    """

    def __init__(
        self, connection: Connection, kind: str, *, name: str, close_at_end: bool = False
    ) -> None:
        self._connection = connection
        self._kind = kind
        self._close_at_end = close_at_end
        self._ready = threading.Condition()
        self._items: list[object] = []
        self._ending = False
        self._last: str | None = None
        self._failed: OSError | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, items: Iterable[object]) -> None:
        """Queue ``items`` and wake the sender; raise BrokenPipeError if sending failed."""
        with self._ready:
            if self._failed is not None:
                raise BrokenPipeError(str(self._failed))
            self._items.extend(items)
            self._ready.notify()

    def add(self, item: object) -> None:
        """Queue one item without waking the sender (see ``wake``)."""
        with self._ready:
            self._items.append(item)

    def wake(self) -> None:
        """Wake the sender if items wait: what a round queued goes in one message."""
        with self._ready:
            if self._items:
                self._ready.notify()

    def end(self, last: str | None = None, *, wait: bool = False) -> None:
        """Send what is queued, then a ``(last, [])`` message if given, then stop sending."""
        with self._ready:
            self._ending = True
            self._last = last if last is not None else self._last
            self._ready.notify()
        if wait:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._items and not self._ending:
                    self._ready.wait()
                gather = not self._ending and len(self._items) < GATHER_RECORDS
            if gather:  # a few items: more may come to go in the same message
                time.sleep(GATHER_SECONDS)
            with self._ready:
                items, self._items = self._items, []
            try:
                if items:
                    self._connection.send_bytes(pickle.dumps((self._kind, items), protocol=5))
                with self._ready:
                    done, last = self._ending and not self._items, self._last
                if done and last is not None:
                    self._connection.send_bytes(pickle.dumps((last, []), protocol=5))
            except OSError as exc:
                with self._ready:
                    self._failed = exc
                done = True
            if done:
                if self._close_at_end:
                    self._connection.close()
                return
