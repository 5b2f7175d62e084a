"""Records whose bytes are in S3 (source_bucket, source_key) are copied under every --put mode."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json


def sh(
    script: str, env: dict[str, str], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a pipeline with bash."""
    return subprocess.run(
        ["bash", "-c", script],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=240,
        check=False,
    )


def by_key(data: bytes) -> dict[str | None, Record]:
    """A stage's output records by key."""
    found = [from_json(line) for line in data.splitlines() if line.strip()]
    return {r.key: r for r in found}


@pytest.fixture(name="source")
def fixture_source(s3: Any, bucket: str) -> str:
    """A source bucket with two objects under src/; the test's bucket is the destination."""
    name = f"src-{bucket[5:]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="src/a.txt", Body=b"alpha")
    s3.put_object(Bucket=name, Key="src/d/b.txt", Body=b"beta")
    return name


def copy_run(
    source: str, bucket: str, env: dict[str, str], cwd: Path, *flags: str
) -> subprocess.CompletedProcess[bytes]:
    """Walk s3://source/src | put --bucket bucket FLAGS."""
    return sh(
        f"s3pput-walk s3://{source}/src | s3pput-put --bucket {bucket} {' '.join(flags)}",
        env,
        cwd,
    )


class TestS3SourcesInEveryMode:
    def test_no_put_flag_copies_then_skips_then_copies_a_change(
        self, source: str, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """The default (update): copied, then skipped as unchanged, then a changed source copied."""
        first = copy_run(source, bucket, s3_env, tmp_path)
        assert first.returncode == 0, first.stderr
        assert {k: r.status for k, r in by_key(first.stdout).items()} == {
            "a.txt": "uploaded",
            "d/b.txt": "uploaded",
        }
        assert s3.get_object(Bucket=bucket, Key="d/b.txt")["Body"].read() == b"beta"
        second = copy_run(source, bucket, s3_env, tmp_path)
        assert second.returncode == 0, second.stderr
        assert {(r.status, r.reason) for r in by_key(second.stdout).values()} == {
            ("skipped", "unchanged")
        }
        s3.put_object(Bucket=source, Key="src/a.txt", Body=b"ALPHA")
        third = copy_run(source, bucket, s3_env, tmp_path, "--put", "update")
        results = by_key(third.stdout)
        assert (results["a.txt"].status, results["d/b.txt"].status) == ("uploaded", "skipped")
        assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"ALPHA"

    def test_add_skips_existing_keys(
        self, source: str, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """--put add copies only keys the destination lacks."""
        s3.put_object(Bucket=bucket, Key="a.txt", Body=b"already here")
        done = copy_run(source, bucket, s3_env, tmp_path, "--put", "add")
        assert done.returncode == 0, done.stderr
        results = by_key(done.stdout)
        assert (results["a.txt"].status, results["a.txt"].reason) == ("skipped", "exists")
        assert results["d/b.txt"].status == "uploaded"
        assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"already here"

    def test_stupid_always_copies(
        self, source: str, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """--put stupid copies again on a second run."""
        for _ in range(2):
            done = copy_run(source, bucket, s3_env, tmp_path, "--put", "stupid")
            assert done.returncode == 0, done.stderr
            assert {r.status for r in by_key(done.stdout).values()} == {"uploaded"}

    def test_a_hand_made_record_without_an_etag_is_compared_by_head(
        self, source: str, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A record with only source_bucket/source_key: update asks S3 for the source's ETag."""
        record = json.dumps({"key": "k", "source_bucket": source, "source_key": "src/a.txt"})
        stdin = record.encode() + b"\n"
        first = sh(f"s3pput-put --bucket {bucket}", s3_env, tmp_path, stdin=stdin)
        assert by_key(first.stdout)["k"].status == "uploaded", first.stderr
        second = sh(f"s3pput-put --bucket {bucket}", s3_env, tmp_path, stdin=stdin)
        assert by_key(second.stdout)["k"].reason == "unchanged", second.stderr
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"alpha"

    def test_a_source_key_without_a_bucket_says_so(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """source_key alone names no object: the error says what is missing, not "no path"."""
        stdin = b'{"key":"k","source_key":"src/a.txt"}\n'
        done = sh(f"s3pput-put --bucket {bucket}", s3_env, tmp_path, stdin=stdin)
        assert done.returncode == 1
        error = by_key(done.stdout)["k"].error or ""
        assert "source_bucket" in error
        assert "no path" not in error
