"""Walk's policy driven as iterators: --count's total record and the S3 sources' records."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from s3pput.records import Record
from s3pput.walk.local_tree import WalkOptions, iter_batches
from s3pput.walk.s3_sources import s3_records
from s3pput.walk.shard import Shard
from s3pput.walk.tar_members import iter_archives
from s3pput.walk.totals import total_record


def tree(root: Path) -> Path:
    """Five files of 1 to 5 bytes in two directories, and a fifo that walk fails."""
    for n in range(1, 6):
        directory = root / f"d{n % 2}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"f{n}").write_bytes(b"x" * n)
    os.mkfifo(root / "pipe")
    return root


class TestTotalRecord:
    def test_counts_files_and_bytes_of_a_tree_but_not_its_failures(self, tmp_path: Path) -> None:
        """The fifo is a failed record, not a file: 5 files, 15 bytes."""
        items = list(iter_batches([str(tree(tmp_path / "src"))], WalkOptions()))
        assert any(isinstance(i, Record) and i.status == "failed" for i in items)
        assert total_record(items) == Record(total_files=5, total_bytes=15)

    def test_counts_what_limit_and_shard_keep(self, tmp_path: Path) -> None:
        """The first pass sees the same selection as the second."""
        source = [str(tree(tmp_path / "src"))]
        assert total_record(iter_batches(source, WalkOptions(limit=2))).total_files == 2
        halves = [
            total_record(iter_batches(source, WalkOptions(shard=Shard(i, 2)))) for i in (1, 2)
        ]
        assert sum(half.total_files or 0 for half in halves) == 5
        assert sum(half.total_bytes or 0 for half in halves) == 15

    def test_counts_the_members_of_an_archive(self, tmp_path: Path) -> None:
        """--walk tar: a record per member, counted the same way."""
        source = tmp_path / "src"
        source.mkdir()
        (source / "a").write_bytes(b"aaa")
        (source / "b").write_bytes(b"bbbbbbb")
        archive = tmp_path / "site.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(source, arcname="site")
        total = total_record(iter_archives([str(archive)], WalkOptions()))
        assert total == Record(total_files=2, total_bytes=10)

    def test_nothing_to_count_is_a_total_of_zero(self) -> None:
        """An empty walk still writes its total record: 0 files, 0 bytes."""
        assert total_record([]) == Record(total_files=0, total_bytes=0)


class TestS3Records:
    def test_every_object_under_each_url_in_order_with_prefix(self, s3: Any, bucket: str) -> None:
        """Two URLs: each object once, keyed by --prefix and its path below its URL."""
        for key in ("one/a.txt", "one/d/b.txt", "two/c.txt", "other/x"):
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        urls = [f"s3://{bucket}/one", f"s3://{bucket}/two/"]
        found = list(s3_records(s3, urls, WalkOptions(prefix="copied")))
        assert [(r.key, r.extra["source_key"]) for r in found] == [
            ("copied/a.txt", "one/a.txt"),
            ("copied/d/b.txt", "one/d/b.txt"),
            ("copied/c.txt", "two/c.txt"),
        ]
        assert {r.extra["source_bucket"] for r in found} == {bucket}

    def test_limit_and_shard_select_objects_as_they_select_files(
        self, s3: Any, bucket: str
    ) -> None:
        """--limit 2 keeps two; the two shares of --shard hold every object once."""
        for n in range(6):
            s3.put_object(Bucket=bucket, Key=f"p/{n}", Body=b"x")
        url = [f"s3://{bucket}/p"]
        assert len(list(s3_records(s3, url, WalkOptions(limit=2)))) == 2
        shares = [
            {r.key for r in s3_records(s3, url, WalkOptions(shard=Shard(i, 2)))} for i in (1, 2)
        ]
        assert shares[0].isdisjoint(shares[1])
        assert shares[0] | shares[1] == {str(n) for n in range(6)}

    def test_a_listing_that_fails_ends_with_a_failed_record(self, s3: Any, bucket: str) -> None:
        """What was listed, then one failed record with the store's error, and a log line."""
        s3.put_object(Bucket=bucket, Key="p/a", Body=b"a")
        urls = [f"s3://{bucket}/p", "s3://no-such-bucket-for-walk/p"]
        with capture_logs() as logs:
            found = list(s3_records(s3, urls, WalkOptions()))
        assert [r.key for r in found] == ["a", None]
        failure = found[-1]
        assert (failure.status, failure.stage) == ("failed", "walk")
        assert (failure.error or "").startswith("cannot list the S3 source: NoSuchBucket")
        assert [e["event"] for e in logs if e["log_level"] == "error"] == [
            "cannot list the S3 source"
        ]
