"""Large files end to end: in parts, bytes verified, skipped when unchanged, caught when edited.

A 40 MiB and a 1 GiB file (issue #4). The comparison is the default
(``--compare checksum``): a second run skips from the checksum cache, a
one-byte edit of the same size is uploaded again, and a file whose mtime
alone changed (as after a fresh git checkout) is read again but not sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json

MiB = 1 << 20
BLOCK = 8 * MiB


def write_random(path: Path, size: int) -> str:
    """Fill ``path`` with ``size`` random bytes; return their MD5."""
    digest = hashlib.md5()  # noqa: S324  # S3's own ETag algorithm, to compare with
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(BLOCK, left))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return digest.hexdigest()


def stored_md5(s3: Any, bucket: str, key: str) -> str:
    """The MD5 of the object's bytes, read back from the server."""
    digest = hashlib.md5()  # noqa: S324  # see write_random
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(BLOCK):
        digest.update(chunk)
    return digest.hexdigest()


def put_one(env: dict[str, str], bucket: str, path: Path) -> Record:
    """Run s3pput-put on one record; return its result."""
    done = subprocess.run(
        ["s3pput-put", "--bucket", bucket],
        input=json.dumps({"path": str(path), "key": path.name}).encode() + b"\n",
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    [result] = [from_json(line) for line in done.stdout.splitlines()]
    return result


@pytest.mark.parametrize("size", [40 * MiB, 1024 * MiB], ids=["40MiB", "1GiB"])
def test_a_large_file_round_trip(
    size: int, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """Parts, verified bytes, a skip, a same-size edit sent, an mtime-only change not sent."""
    path = tmp_path / "large.bin"
    md5 = write_random(path, size)
    first = put_one(s3_env, bucket, path)
    assert first.status == "uploaded", first.error
    assert (first.etag or "").endswith(f"-{-(-size // (8 * MiB))}")  # 8 MiB parts
    assert stored_md5(s3, bucket, path.name) == md5

    second = put_one(s3_env, bucket, path)
    assert (second.status, second.reason, second.bytes) == ("skipped", "unchanged", 0)

    with path.open("r+b") as edit:
        edit.seek(size // 2)
        byte = edit.read(1)
        edit.seek(size // 2)
        edit.write(bytes([byte[0] ^ 1]))
    edited = put_one(s3_env, bucket, path)
    assert edited.status == "uploaded", edited.error
    assert stored_md5(s3, bucket, path.name) != md5

    before = s3.head_object(Bucket=bucket, Key=path.name)["LastModified"]
    info = path.stat()
    os.utime(path, (info.st_atime, info.st_mtime + 3600))  # a checkout rewrites mtimes
    touched = put_one(s3_env, bucket, path)
    assert (touched.status, touched.reason) == ("skipped", "unchanged")
    assert s3.head_object(Bucket=bucket, Key=path.name)["LastModified"] == before


def test_an_object_over_5gib_is_copied_server_side_in_parts(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """CopyObject stops at 5 GiB: walk s3:// | put --put copy copies a larger one in parts."""
    size = 5 * 1024 * MiB + 3 * MiB
    path = tmp_path / "huge.bin"
    with path.open("wb") as out:  # sparse, with each MiB's offset written at its start
        out.truncate(size)
        for offset in range(0, size, MiB):
            out.seek(offset)
            out.write(offset.to_bytes(8, "big") * 2)
    try:
        first = put_one(s3_env, bucket, path)
        assert first.status == "uploaded", first.error
        target = f"copy-{bucket[5:]}"
        s3.create_bucket(Bucket=target)
        done = subprocess.run(  # noqa: S602  # the README's pipe, our own text
            f"s3pput-walk s3://{bucket}/{path.name} | s3pput-put --bucket {target} --put copy",
            shell=True,
            env=s3_env,
            capture_output=True,
            timeout=900,
            check=False,
        )
        [copied] = [from_json(line) for line in done.stdout.splitlines()]
        assert copied.status == "uploaded", copied.error
        assert (copied.etag or "").endswith(f"-{-(-size // (256 * MiB))}")  # 256 MiB parts
        assert s3.head_object(Bucket=target, Key=path.name)["ContentLength"] == size
        with path.open("rb") as local:
            for offset in (0, 256 * MiB - 8, 256 * MiB, 5 * 1024 * MiB - 4, size - 16):
                end = offset + 15
                got = s3.get_object(Bucket=target, Key=path.name, Range=f"bytes={offset}-{end}")
                local.seek(offset)
                assert got["Body"].read() == local.read(16), offset
    finally:
        for name in (bucket, f"copy-{bucket[5:]}"):
            with contextlib.suppress(Exception):
                s3.delete_object(Bucket=name, Key=path.name)
