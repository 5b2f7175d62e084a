"""Integrity end to end: a damaged body is refused, and the record carries S3's checksum.

The relay in front of the server flips one letter of a marker inside the
file's bytes, after put computed its checksums. Every way put sends a body
is tried: a small file (CRC32 trailer), a file in parts, and gzipped bodies
small (Content-MD5) and in parts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from awscrt import checksums
from conftest import Tap

from s3pput.put.content_type import gzip_bytes
from s3pput.records import from_json
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.checksums import CHECKSUMS

PUT = str(Path(sys.executable).parent / "s3pput-put")
MARKER = b"CORRUPT-ME"
MiB = 1024 * 1024


def contents(size: int) -> bytes:
    """Incompressible bytes with the marker in the middle, so gzip keeps it verbatim."""
    half = size // 2
    return os.urandom(half) + MARKER + os.urandom(size - half - len(MARKER))


def sent_bytes(data: bytes, options: list[str]) -> bytes:
    """What put sends for ``data``: itself, or its gzip stream (the same for a file in parts)."""
    return gzip_bytes(data) if "--gzip" in options else data


def damage(sent: bytes) -> tuple[bytes, bytes]:
    """(a run of bytes from the middle of ``sent``, the same with its first byte flipped).

    Compressed output only keeps a marker verbatim by chance, so the run is
    taken from what is really sent.
    """
    middle = len(sent) // 2
    run = sent[middle : middle + 16]
    return run, bytes([run[0] ^ 0xFF]) + run[1:]


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
    """The upload fails with S3's digest error; neither the key nor its parts exist afterwards."""
    size, options = CASES[case]
    path = tmp_path / "damaged"
    data = contents(size)
    path.write_bytes(data)
    relay = Tap(target.port, corrupt=damage(sent_bytes(data, options)))
    done = put_through(relay, target, path, options)
    assert relay.corrupted >= 1, "the relay never saw the marker: nothing was tested"
    [result] = [from_json(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1
    assert result.status == "failed"
    assert "Digest" in str(result.error)
    assert target.s3.list_objects_v2(Bucket=target.bucket).get("KeyCount") == 0
    uploads = target.s3.list_multipart_uploads(Bucket=target.bucket).get("Uploads", [])
    assert uploads == [], "a failed upload in parts must be aborted, not left to linger"


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


def expected_checksum(algorithm: str, data: bytes) -> str:
    """S3's additional checksum of ``data``, computed here independently of the upload."""
    if algorithm in {"sha1", "sha256"}:
        digest = hashlib.new(algorithm, data).digest()
    elif algorithm == "crc32":
        digest = zlib.crc32(data).to_bytes(4, "big")
    elif algorithm == "crc32c":
        digest = checksums.crc32c(data).to_bytes(4, "big")
    else:
        digest = checksums.crc64nvme(data).to_bytes(8, "big")
    return base64.b64encode(digest).decode("ascii")


@pytest.mark.parametrize("algorithm", CHECKSUMS)
def test_the_record_carries_the_checksum_s3_checked(
    algorithm: str, target: Target, tmp_path: Path
) -> None:
    """--checksum ALGO: S3's value of the stored bytes is in the record, and it is right."""
    path = tmp_path / "summed"
    data = contents(100_000)
    path.write_bytes(data)
    done = put_through(Tap(target.port), target, path, ["--checksum", algorithm])
    [result] = [from_json(line) for line in done.stdout.splitlines()]
    assert result.status == "uploaded", result.error
    assert result.checksum_algorithm == algorithm
    assert result.checksum == expected_checksum(algorithm, data)


@pytest.mark.parametrize("algorithm", ["crc32c", "sha256"])
def test_a_damaged_body_is_refused_whatever_the_checksum(
    algorithm: str, target: Target, tmp_path: Path
) -> None:
    """The server checks the chosen algorithm too, not only the default."""
    path = tmp_path / "damaged"
    path.write_bytes(contents(64 * 1024))
    relay = Tap(target.port, corrupt=(MARKER, b"CORRUPT-Me"))
    done = put_through(relay, target, path, ["--checksum", algorithm])
    assert relay.corrupted >= 1
    [result] = [from_json(line) for line in done.stdout.splitlines()]
    assert result.status == "failed"
    assert "Digest" in str(result.error) or "Checksum" in str(result.error)


def test_a_gzipped_body_carries_the_checksum_of_what_was_stored(
    target: Target, tmp_path: Path
) -> None:
    """With --gzip the checksum is of the compressed bytes, the object S3 holds."""
    path = tmp_path / "page.html"
    path.write_bytes(b"<p>hello</p>\n" * 1000)
    done = put_through(Tap(target.port), target, path, ["--gzip", "--checksum", "sha256"])
    [result] = [from_json(line) for line in done.stdout.splitlines()]
    assert result.content_encoding == "gzip"
    stored = target.s3.get_object(Bucket=target.bucket, Key="page.html")["Body"].read()
    assert result.checksum == expected_checksum("sha256", stored)


@pytest.mark.parametrize(
    ("case", "encoding"),
    [
        ("small file", None),
        ("file in parts", None),
        ("small gzipped", "gzip"),
        ("gzipped in parts", "gzip"),
    ],
)
def test_the_stored_content_encoding_is_only_what_was_asked(
    case: str, encoding: str | None, target: Target, tmp_path: Path
) -> None:
    """No transfer encoding leaks into the object (SeaweedFS kept "aws-chunked" from trailers)."""
    size, options = CASES[case]
    path = tmp_path / "encoded"
    path.write_bytes(contents(size))
    done = put_through(Tap(target.port), target, path, options)
    assert done.returncode == 0, done.stdout
    head = target.s3.head_object(Bucket=target.bucket, Key="encoded")
    assert head.get("ContentEncoding") == encoding
