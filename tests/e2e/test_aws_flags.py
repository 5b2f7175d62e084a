"""aws s3 cp's flag names do what aws's do, on a real store, in one request and in parts."""

from __future__ import annotations

import base64
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


def put_with(
    env: dict[str, str], records: bytes, *flags: str
) -> subprocess.CompletedProcess[bytes]:
    """s3pput-put with ``flags`` (parts of 5 MiB above 8 MiB) on ``records``."""
    return subprocess.run(
        ["s3pput-put", "--multipart-threshold", "8M", "--part-size", "5M", *flags],
        input=records,
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("size", [10, 12 * MiB], ids=["one request", "in parts"])
def test_aws_spellings_are_stored_with_the_object(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path, size: int
) -> None:
    """Cache-Control, Content-Disposition, Content-Language, Expires and tags reach the store."""
    path = tmp_path / "r.bin"
    path.write_bytes(os.urandom(size))
    done = put_with(
        s3_env, to_json(Record(path=str(path), key="r.bin")), "--bucket", bucket, *FLAGS
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


@pytest.mark.parametrize("size", [10, 12 * MiB], ids=["one request", "in parts"])
def test_sse_c_encrypts_with_the_users_key_and_never_shows_it(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path, size: int
) -> None:
    """--sse-c with a fileb:// key: stored encrypted, readable only with the key.

    A rerun compares with the key too (skipped unchanged); the key is in no
    output or log line, even at -vv.
    """
    key = os.urandom(32)
    key_file = tmp_path / "sse-c.key"
    key_file.write_bytes(key)
    path = tmp_path / "secret.bin"
    data = os.urandom(size)
    path.write_bytes(data)
    record = to_json(Record(path=str(path), key="secret.bin"))
    flags = ["--bucket", bucket, "--sse-c", "--sse-c-key", f"fileb://{key_file}", "-vv"]

    first = put_with(s3_env, record, *flags)
    assert first.returncode == 0, first.stderr.decode()
    [result] = [from_json(line) for line in first.stdout.splitlines()]
    assert result.status == "uploaded", result.error
    with pytest.raises(s3.exceptions.ClientError):
        s3.get_object(Bucket=bucket, Key="secret.bin")  # without the key: refused
    got = s3.get_object(
        Bucket=bucket, Key="secret.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert got["Body"].read() == data
    assert got["SSECustomerAlgorithm"] == "AES256"

    again = put_with(s3_env, record, *flags, "--put", "update")
    assert again.returncode == 0, again.stderr.decode()
    [second] = [from_json(line) for line in again.stdout.splitlines()]
    assert (second.status, second.reason) == ("skipped", "unchanged")
    encoded = base64.b64encode(key)
    for run in (first, again):
        for stream in (run.stdout, run.stderr):
            assert key not in stream
            assert encoded not in stream


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--sse-c"], "--sse-c and --sse-c-key go together"),
        (["--sse-c-key", "k" * 32], "--sse-c and --sse-c-key go together"),
        (["--sse-c", "--sse-c-key", "short"], "--sse-c-key must be 32 bytes for AES256, not 5"),
        (["--sse-c", "--sse-c-key", "fileb:///no/such/key"], "cannot read --sse-c-key"),
        (["--sse-c", "--sse-c-key", "k" * 32, "--sse", "AES256"], "S3 takes one encryption"),
    ],
    ids=["no key", "no --sse-c", "short key", "missing key file", "with --sse"],
)
def test_sse_c_mistakes_are_usage_errors(
    s3_env: dict[str, str], bucket: str, flags: list[str], message: str
) -> None:
    """Each wrong combination exits 2 with one line, before anything is sent."""
    run = put_with(s3_env, b"", "--bucket", bucket, *flags)
    assert run.returncode == 2
    assert message in run.stderr.decode()
