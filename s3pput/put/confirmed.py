"""What HEAD said of keys a listing lacked but may have skipped between two pages.

A store that resumes a listing by another order than it walks (s3rver) can
leave keys out of a listing that ran to its end (listing_order.PageEnds).
DirectoryIndex confirms such keys with a HEAD; this keeps the answers,
because put asks about each key twice (before its upload and in it), and
counts the keys in doubt per directory, so that a directory with many of
them (a whole subtree skipped) is listed on its own instead of HEADed key
by key. Bounded and thread-safe; no requests here.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Final, TypeAlias

from s3pput import log

__all__ = ["HEADS_BEFORE_LISTING", "Confirmed"]

_log = log.get_logger("put")

Head: TypeAlias = dict[str, Any]

MAX_CONFIRMED: Final = 4_096
"""HEAD answers kept (the latest)."""
HEADS_BEFORE_LISTING: Final = 16
"""Keys in doubt HEADed per directory; past these, the directory is listed on its own."""


class Confirmed:
    """HEAD answers for keys in doubt, and how many keys each directory had in doubt."""

    def __init__(self, max_directories: int) -> None:
        self._lock = threading.Lock()
        self._answers: OrderedDict[str, Head | None] = OrderedDict()
        self._doubted: OrderedDict[str, int] = OrderedDict()
        """Keys in doubt so far, by directory (the most recent ``max_directories``)."""
        self._max_directories = max_directories
        self.count = 0
        """Keys HEADed because of a doubt (for logs and tests)."""

    def get(self, key: str) -> tuple[bool, Head | None]:
        """(known, what HEAD said of ``key``)."""
        with self._lock:
            if key in self._answers:
                return True, self._answers[key]
        return False, None

    def list_instead(self, directory: str) -> bool:
        """Count one more key of ``directory`` in doubt; whether to list it rather than HEAD."""
        with self._lock:
            count = self._doubted.pop(directory, 0) + 1
            self._doubted[directory] = count
            while len(self._doubted) > self._max_directories:
                self._doubted.popitem(last=False)
        return count > HEADS_BEFORE_LISTING

    def keep(self, key: str, head: Head | None) -> None:
        """Keep what HEAD said of ``key``."""
        with self._lock:
            if self.count == 0:
                _log.info(
                    "a listing resumed past a key it may have skipped: asking per key there",
                    key=key,
                )
            self.count += 1
            self._answers[key] = head
            while len(self._answers) > MAX_CONFIRMED:
                self._answers.popitem(last=False)

    def forget(self, key: str) -> None:
        """Forget ``key``: this run wrote it, and the listings know it now."""
        with self._lock:
            self._answers.pop(key, None)
