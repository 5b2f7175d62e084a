"""Local checksums are remembered between runs, and never trusted for a changed file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from s3pput.put.checksum_cache import ChecksumCache, default_cache_path
from s3pput.put.uploader import PutOptions, Uploader
from s3pput.records import Record
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.clients import ClientOptions, make_client, make_putter


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


class TestUpdateWithCache:
    def test_second_run_trusts_the_cache_and_edits_are_uploaded(
        self, s3_server: LocalS3, s3: Any, bucket: str, cache: ChecksumCache, tmp_path: Path
    ) -> None:
        """An unchanged file is skipped from its cached MD5; an edited one is read and uploaded."""
        options = ClientOptions(endpoint_url=s3_server.endpoint_url)
        client = make_client(options)
        putter = make_putter(options, client, part_size=8 << 20, multipart_threshold=8 << 20)
        path = tmp_path / "f.txt"
        path.write_bytes(b"first")
        record = Record(path=str(path), key="f.txt")
        assert (
            Uploader(client, putter, PutOptions(bucket=bucket), cache=cache).process(record).status
            == "uploaded"
        )
        etag = s3.head_object(Bucket=bucket, Key="f.txt")["ETag"].strip('"')
        assert (
            Uploader(client, putter, PutOptions(bucket=bucket), cache=cache).process(record).status
            == "skipped"
        )
        # Edit the file, then plant the old MD5 for its new version: a skip now
        # proves the run trusted the cache instead of reading the file.
        path.write_bytes(b"fires")
        cache.put(path.stat(), "md5", etag)
        planted = Uploader(client, putter, PutOptions(bucket=bucket), cache=cache).process(record)
        assert (planted.status, planted.reason) == ("skipped", "unchanged")
        path.write_bytes(b"fired")  # a real same-size edit: a new version, not in the cache
        third = Uploader(client, putter, PutOptions(bucket=bucket), cache=cache).process(record)
        assert third.status == "uploaded"
        assert s3.get_object(Bucket=bucket, Key="f.txt")["Body"].read() == b"fired"
