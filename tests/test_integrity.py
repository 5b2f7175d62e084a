"""A body damaged on its way to S3 is refused by S3, and put says so: no corrupt object stays.

The relay in front of the server flips one letter of a marker inside the
file's bytes, after put computed its checksums. Every way put sends a body
is tried: a small file (CRC32 trailer), a file in parts, and gzipped bodies
small (Content-MD5) and in parts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import Tap

from s3pput.localserver import LocalS3
from s3pput.records import from_json

PUT = str(Path(sys.executable).parent / "s3pput-put")
MARKER = b"CORRUPT-ME"
MiB = 1024 * 1024


def contents(size: int) -> bytes:
    """Incompressible bytes with the marker in the middle, so gzip keeps it verbatim."""
    half = size // 2
    return os.urandom(half) + MARKER + os.urandom(size - half - len(MARKER))


CASES = {
    "small file": (64 * 1024, []),
    "file in parts": (9 * MiB, []),
    "small gzipped": (64 * 1024, ["--gzip", "--gzip-type", "all"]),
    "gzipped in parts": (9 * MiB, ["--gzip", "--gzip-type", "all"]),
}


@dataclass(frozen=True)
class Target:
    """Where uploads go: the server's port, the environment, the bucket and a client."""

    port: int
    env: dict[str, str]
    bucket: str
    s3: Any


@pytest.fixture(name="target")
def fixture_target(s3_server: LocalS3, s3_env: dict[str, str], s3: Any, bucket: str) -> Target:
    """The local server, reached through a relay each test makes."""
    return Target(s3_server.s3_port, s3_env, bucket, s3)


def put_through(
    relay: Tap, target: Target, path: Path, options: list[str]
) -> subprocess.CompletedProcess[bytes]:
    """Run s3pput-put on one record, sending through ``relay``."""
    try:
        return subprocess.run(
            [PUT, "--bucket", target.bucket, "--put", "stupid", *options],
            input=json.dumps({"path": str(path), "key": path.name}).encode() + b"\n",
            capture_output=True,
            env={**target.env, "AWS_ENDPOINT_URL": relay.url},
            timeout=120,
            check=False,
        )
    finally:
        relay.close()


@pytest.mark.parametrize("case", list(CASES))
def test_a_body_damaged_in_flight_is_refused(case: str, target: Target, tmp_path: Path) -> None:
    """The upload fails with S3's digest error and the key does not exist afterwards."""
    size, options = CASES[case]
    path = tmp_path / "damaged"
    path.write_bytes(contents(size))
    relay = Tap(target.port, corrupt=(MARKER, b"CORRUPT-Me"))
    done = put_through(relay, target, path, options)
    assert relay.corrupted >= 1, "the relay never saw the marker: nothing was tested"
    [result] = [from_json(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1
    assert result.status == "failed"
    assert "Digest" in str(result.error)
    assert target.s3.list_objects_v2(Bucket=target.bucket).get("KeyCount") == 0


@pytest.mark.parametrize("case", ["small file", "file in parts"])
def test_the_same_upload_goes_through_an_honest_relay(
    case: str, target: Target, tmp_path: Path
) -> None:
    """The control: through the same relay, unchanged, the same file is stored whole."""
    size, options = CASES[case]
    path = tmp_path / "whole"
    data = contents(size)
    path.write_bytes(data)
    done = put_through(Tap(target.port), target, path, options)
    assert done.returncode == 0, done.stdout
    assert target.s3.get_object(Bucket=target.bucket, Key="whole")["Body"].read() == data
