"""Local checksums are remembered between runs, and never trusted for a changed file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from s3pput.put.checksum_cache import ChecksumCache, default_cache_path


@pytest.fixture(name="cache")
def fixture_cache(tmp_path: Path) -> Any:
    """A fresh cache database in the test's directory."""
    cache = ChecksumCache(tmp_path / "cache" / "c.sqlite3")
    yield cache
    cache.close()


class TestChecksumCache:
    def test_remembers_a_file_until_it_changes(self, cache: ChecksumCache, tmp_path: Path) -> None:
        """A value is found for the same file version and lost once the file is written."""
        path = tmp_path / "f"
        path.write_bytes(b"one")
        cache.put(path.stat(), "md5", "abc")
        assert cache.get(path.stat(), "md5") == "abc"
        assert cache.get(path.stat(), "gzip-md5") is None
        path.write_bytes(b"two")
        assert cache.get(path.stat(), "md5") is None

    def test_resetting_mtime_does_not_fool_it(self, cache: ChecksumCache, tmp_path: Path) -> None:
        """A same-size edit with the old mtime put back still misses (ctime moved)."""
        path = tmp_path / "f"
        path.write_bytes(b"aaaa")
        before = path.stat()
        cache.put(before, "md5", "abc")
        time.sleep(0.01)
        path.write_bytes(b"aaab")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_mtime_ns == before.st_mtime_ns
        assert cache.get(path.stat(), "md5") is None

    def test_survives_a_new_process(self, tmp_path: Path) -> None:
        """What one run wrote, the next run reads."""
        path = tmp_path / "f"
        path.write_bytes(b"x")
        first = ChecksumCache(tmp_path / "c.sqlite3")
        first.put(path.stat(), "md5", "abc")
        first.close()
        second = ChecksumCache(tmp_path / "c.sqlite3")
        assert second.get(path.stat(), "md5") == "abc"
        second.close()

    def test_default_path_follows_xdg(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """XDG_CACHE_HOME decides where the cache lives."""
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        assert default_cache_path() == tmp_path / "s3pput" / "checksums.sqlite3"
