"""``--put update`` with the checksum cache on a real server: trusted for unchanged files only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from s3pput.put.checksum_cache import ChecksumCache
from s3pput.put.options import PutOptions
from s3pput.put.uploader import Uploader
from s3pput.records import Record
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.clients import ClientOptions, make_client, make_putter


@pytest.fixture(name="cache")
def fixture_cache(tmp_path: Path) -> Any:
    """A fresh cache database in the test's directory."""
    cache = ChecksumCache(tmp_path / "cache" / "c.sqlite3")
    yield cache
    cache.close()


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
