"""Checksums of local files, remembered between runs so unchanged files are not reread.

A second ``--put update`` run over a tree that did not change should cost a
``stat`` per file, not a read and an MD5. An entry is keyed by what changes
whenever the content can have changed: device, inode, size, mtime and ctime
(in nanoseconds). Writing a file, or resetting its mtime with ``touch -d``,
moves its ctime, so a stale entry is never used.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Final

from s3pput import log

__all__ = ["ChecksumCache", "default_cache_path", "open_cache"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS checksums (
    dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,
    kind TEXT, value TEXT,
    PRIMARY KEY (dev, ino, size, mtime_ns, ctime_ns, kind)
) WITHOUT ROWID
"""
_COMMIT_EVERY: Final = 1000


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/s3pput/checksums.sqlite3`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "s3pput" / "checksums.sqlite3"


def _identity(result: os.stat_result) -> tuple[int, int, int, int, int]:
    return (result.st_dev, result.st_ino, result.st_size, result.st_mtime_ns, result.st_ctime_ns)


class ChecksumCache:
    """A small SQLite table shared by the threads of one run (and by concurrent runs).

    ``kind`` names what the value is (``md5``, ``gzip-md5``...), so one file
    can have several. Writes are committed in batches and on ``close``.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, int, int, int, int, str], str] = {}
        self._closed = False

    def get(self, result: os.stat_result, kind: str) -> str | None:
        """The value remembered for this exact version of the file, or None."""
        identity = _identity(result)
        with self._lock:
            if self._closed:
                return None
            pending = self._pending.get((*identity, kind))
            if pending is not None:
                return pending
            row = self._db.execute(
                "SELECT value FROM checksums WHERE dev=? AND ino=? AND size=? AND mtime_ns=? "
                "AND ctime_ns=? AND kind=?",
                (*identity, kind),
            ).fetchone()
        return str(row[0]) if row else None

    def put(self, result: os.stat_result, kind: str, value: str) -> None:
        """Remember a value for this version of the file (written in batches)."""
        with self._lock:
            if self._closed:
                return
            self._pending[(*_identity(result), kind)] = value
            if len(self._pending) >= _COMMIT_EVERY:
                self._write_pending()

    def _write_pending(self) -> None:
        """One transaction for the batch: a statement per row costs more than the row."""
        rows = [(*identity, value) for identity, value in self._pending.items()]
        self._pending.clear()
        self._db.executemany("INSERT OR REPLACE INTO checksums VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        self._db.commit()

    def close(self) -> None:
        """Write what is pending and close the database; later calls do nothing."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._write_pending()
                self._db.close()


def open_cache(path: Path) -> ChecksumCache | None:
    """The cache at ``path``, or None (with a warning) when it cannot be used.

    The cache only saves rereading files, so a path that is a directory, a
    file that is not a database or a read-only home costs speed, not the run.
    """
    try:
        return ChecksumCache(path)
    except (OSError, sqlite3.Error) as exc:
        log.get_logger("put").warning(
            "checksum cache unusable, running without it", path=str(path), error=str(exc)
        )
        return None
