"""aws s3 cp's flag names do what aws's do, on a real store, in one request and in parts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json, to_json

MiB = 1 << 20

FLAGS = [
    "--cache-control", "max-age=60",
    "--content-disposition", 'attachment; filename="r.bin"',
    "--content-language", "fr",
    "--expires", "Wed, 21 Oct 2026 07:28:00 GMT",
    "--acl", "private",
    "--tags", "team=ops&tier=cold",
]  # fmt: skip


@pytest.mark.parametrize("size", [10, 12 * MiB], ids=["one request", "in parts"])
def test_aws_spellings_are_stored_with_the_object(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path, size: int
) -> None:
    """Cache-Control, Content-Disposition, Content-Language, Expires and tags reach the store."""
    path = tmp_path / "r.bin"
    path.write_bytes(os.urandom(size))
    done = subprocess.run(
        [
            "s3pput-put",
            "--bucket",
            bucket,
            "--multipart-threshold",
            "8M",
            "--part-size",
            "5M",
            *FLAGS,
        ],
        input=to_json(Record(path=str(path), key="r.bin")),
        capture_output=True,
        env=s3_env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    [result] = [from_json(line) for line in done.stdout.splitlines()]
    assert result.status == "uploaded", result.error
    head = s3.head_object(Bucket=bucket, Key="r.bin")
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="r.bin"'
    assert head["ContentLanguage"] == "fr"
    assert head["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    tags = s3.get_object_tagging(Bucket=bucket, Key="r.bin")["TagSet"]
    assert sorted((tag["Key"], tag["Value"]) for tag in tags) == [("team", "ops"), ("tier", "cold")]


def test_dryrun_is_dry_run(s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path) -> None:
    """``--dryrun`` (aws's spelling) plans and sends nothing."""
    path = tmp_path / "f"
    path.write_bytes(b"x")
    done = subprocess.run(
        ["s3pput-put", "--bucket", bucket, "--dryrun"],
        input=to_json(Record(path=str(path), key="f")),
        capture_output=True,
        env=s3_env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert [from_json(line).status for line in done.stdout.splitlines()] == ["planned"]
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
