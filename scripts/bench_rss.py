"""The peak of the summed RSS of a process tree, sampled from /proc while it runs.

``ru_maxrss`` says the largest single process's peak; a command that spreads
its work over processes (put's workers) uses their sum. This samples the sum
a few times a second by walking the tree down from one PID through
``/proc/PID/task/TID/children`` (only the tree's own processes are read, so
sampling costs little). Pages that processes share (after fork) count in
each, so the sum is an upper bound, and a peak between two samples is missed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from types import TracebackType
from typing import Final, Self

__all__ = ["TreeRss"]

_PAGE: Final = os.sysconf("SC_PAGE_SIZE")
_INTERVAL: Final = 0.1


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found += [int(c) for c in (task / "children").read_text().split()]
    except OSError:  # the process has gone meanwhile
        return found
    return found


def _rss_bytes(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * _PAGE


def tree_rss_bytes(root: int, *, skip_root: bool = True) -> int:
    """The summed RSS of ``root``'s descendants (and of ``root`` unless ``skip_root``)."""
    total, stack = 0 if skip_root else _rss_bytes(root), _children(root)
    while stack:
        pid = stack.pop()
        total += _rss_bytes(pid)
        stack += _children(pid)
    return total


class TreeRss:
    """A thread that samples the tree under ``root`` until stopped; ``peak_mib`` is the largest."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @property
    def peak_mib(self) -> float:
        """The largest sum seen, in MiB."""
        return self.peak / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(_INTERVAL):
            self.peak = max(self.peak, tree_rss_bytes(self.root))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
