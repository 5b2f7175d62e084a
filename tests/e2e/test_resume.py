"""Resuming a multipart upload: an interrupted record carries its upload id; a replay ends it.

End to end on the real server: put is stopped (SIGTERM, as ``kill`` sends)
while a file goes up in parts; its record says ``upload_id`` and
``part_size``; replaying that record through a relay that sees every request
sends only the parts the server does not hold, and the object's bytes are
the file's. Also: a part edited since is sent again, a vanished upload
starts afresh, and a failed upload leaves no parts behind.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Tap
from test_large import stored_md5, write_random

from s3pput.records import Record, from_json, to_json
from s3pput.sandbox.local_s3 import LocalS3

MiB = 1 << 20


def run_put(env: dict[str, str], url: str, bucket: str, *records: Record) -> list[Record]:
    """s3pput-put to ``url`` on some records; their results."""
    done = subprocess.run(
        ["s3pput-put", "--bucket", bucket, "--endpoint-url", url, "--part-size", "5M"],
        input=b"".join(to_json(r) for r in records),
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return [from_json(line) for line in done.stdout.splitlines()]


def parts_on_server(s3: Any, bucket: str, key: str) -> tuple[str | None, list[int]]:
    """The one upload under way for ``key``: its id and the part numbers stored."""
    uploads = [
        u for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) if u["Key"] == key
    ]
    if not uploads:
        return None, []
    upload_id = uploads[0]["UploadId"]
    listed = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id).get("Parts", [])
    return upload_id, sorted(p["PartNumber"] for p in listed)


def settled_parts(s3: Any, bucket: str, key: str) -> tuple[str | None, list[int]]:
    """``parts_on_server`` once it stopped changing: parts sent before the stop may still land."""
    seen = parts_on_server(s3, bucket, key)
    while True:
        time.sleep(0.5)
        now = parts_on_server(s3, bucket, key)
        if now == seen:
            return now
        seen = now


def interrupt_upload(  # noqa: PLR0913  # what the interrupted run needs
    env: dict[str, str], url: str, s3: Any, bucket: str, path: Path, *, after_parts: int
) -> Record:
    """Start put on ``path``, SIGTERM it once ``after_parts`` parts are stored; its record."""
    record = Record(path=str(path), key=path.name)
    put = subprocess.Popen(
        ["s3pput-put", "--bucket", bucket, "--endpoint-url", url, "--part-size", "5M"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert put.stdin is not None
        put.stdin.write(to_json(record))
        put.stdin.flush()
        deadline = time.monotonic() + 120
        while len(parts_on_server(s3, bucket, path.name)[1]) < after_parts:
            assert put.poll() is None, "put ended before it could be interrupted"
            assert time.monotonic() < deadline, "the parts never arrived"
            time.sleep(0.05)
        put.send_signal(signal.SIGTERM)
        out, err = put.communicate(timeout=60)
    finally:
        if put.poll() is None:
            put.kill()
            put.wait()
    assert b"Traceback" not in err, err.decode()
    assert put.returncode != 0
    [result] = [from_json(line) for line in out.splitlines()]
    return result


@pytest.fixture(name="slow_relay")
def fixture_slow_relay(s3_server: LocalS3) -> Iterator[Tap]:
    """A relay that passes about 3 MB/s: slow enough to stop an upload half way."""
    relay = Tap(s3_server.s3_port, keep=False, delay=0.02)
    yield relay
    relay.close()


@pytest.fixture(name="counting_relay")
def fixture_counting_relay(s3_server: LocalS3) -> Iterator[Tap]:
    """A relay at full speed that notes every request line."""
    relay = Tap(s3_server.s3_port, keep=False)
    yield relay
    relay.close()


def part_requests(relay: Tap, key: str) -> list[int]:
    """The part numbers of the UploadPart requests ``relay`` saw for ``key``."""
    numbers = []
    for line in relay.requests:
        target = line.split(b" ")[1].decode()
        if line.startswith(b"PUT ") and f"/{key}?" in target and "partNumber=" in target:
            query = dict(item.split("=", 1) for item in target.split("?", 1)[1].split("&"))
            numbers.append(int(query["partNumber"]))
    return sorted(numbers)


def test_an_interrupted_upload_resumes_with_only_the_missing_parts(  # noqa: PLR0913, PLR0917  # fixtures
    s3_env: dict[str, str],
    s3: Any,
    bucket: str,
    tmp_path: Path,
    slow_relay: Tap,
    counting_relay: Tap,
) -> None:
    """Stopped after 2+ parts, the replay sends exactly the others; the bytes are the file's."""
    path = tmp_path / "forty.bin"
    md5 = write_random(path, 40 * MiB)
    stopped = interrupt_upload(s3_env, slow_relay.url, s3, bucket, path, after_parts=2)
    slow_relay.close()  # what it still held for the server is dropped
    assert (stopped.status, stopped.error) == ("failed", "interrupted")
    assert stopped.part_size == 5 * MiB
    upload_id, stored = settled_parts(s3, bucket, path.name)
    assert stopped.upload_id == upload_id
    assert len(stored) >= 2

    [resumed] = run_put(s3_env, counting_relay.url, bucket, stopped)
    assert resumed.status == "uploaded", resumed.error
    sent = part_requests(counting_relay, path.name)
    assert sent == sorted(set(range(1, 9)) - set(stored)), (sent, stored)
    assert resumed.bytes == (8 - len(stored)) * 5 * MiB
    assert (resumed.upload_id, resumed.part_size) == (None, None)
    assert resumed.etag is not None
    assert resumed.etag.endswith("-8")
    assert (resumed.checksum or "").endswith("-8")
    assert stored_md5(s3, bucket, path.name) == md5
    assert parts_on_server(s3, bucket, path.name) == (None, [])


def test_a_part_edited_since_the_interrupt_is_sent_again(  # noqa: PLR0913, PLR0917  # fixtures
    s3_env: dict[str, str],
    s3: Any,
    bucket: str,
    tmp_path: Path,
    slow_relay: Tap,
    counting_relay: Tap,
) -> None:
    """A stored part whose bytes changed locally fails its check and goes up again."""
    path = tmp_path / "edited.bin"
    write_random(path, 40 * MiB)
    stopped = interrupt_upload(s3_env, slow_relay.url, s3, bucket, path, after_parts=2)
    slow_relay.close()
    _, stored = settled_parts(s3, bucket, path.name)
    edited = stored[0]
    with path.open("r+b") as edit:  # same size, one byte of a part already sent
        edit.seek((edited - 1) * 5 * MiB + 7)
        byte = edit.read(1)
        edit.seek(-1, 1)
        edit.write(bytes([byte[0] ^ 0xFF]))
    md5 = write_md5(path)

    [resumed] = run_put(s3_env, counting_relay.url, bucket, stopped)
    assert resumed.status == "uploaded", resumed.error
    sent = part_requests(counting_relay, path.name)
    assert edited in sent
    assert sent == sorted({*range(1, 9)} - set(stored) | {edited})
    assert stored_md5(s3, bucket, path.name) == md5


def write_md5(path: Path) -> str:
    """The MD5 of a file as it is now."""
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_an_upload_that_is_gone_starts_afresh(
    s3_env: dict[str, str], s3: Any, s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """An aborted (or completed, or expired) upload id is not an error: a new upload starts."""
    path = tmp_path / "gone.bin"
    md5 = write_random(path, 12 * MiB)
    created = s3.create_multipart_upload(Bucket=bucket, Key=path.name)
    s3.abort_multipart_upload(Bucket=bucket, Key=path.name, UploadId=created["UploadId"])
    record = Record(path=str(path), key=path.name, upload_id=created["UploadId"], part_size=5 * MiB)
    [result] = run_put(s3_env, s3_server.endpoint_url, bucket, record)
    assert result.status == "uploaded", result.error
    assert result.bytes == 12 * MiB
    assert stored_md5(s3, bucket, path.name) == md5


def test_a_skipped_file_aborts_the_upload_its_record_carried(
    s3_env: dict[str, str], s3: Any, s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """An unchanged file needs no upload: the one its record named is aborted."""
    path = tmp_path / "same.bin"
    write_random(path, 12 * MiB)
    [first] = run_put(s3_env, s3_server.endpoint_url, bucket, Record(path=str(path)))
    assert first.status == "uploaded", first.error
    created = s3.create_multipart_upload(Bucket=bucket, Key=first.key)
    again = Record(path=str(path), upload_id=created["UploadId"], part_size=5 * MiB)
    [second] = run_put(s3_env, s3_server.endpoint_url, bucket, again)
    assert (second.status, second.reason, second.upload_id) == ("skipped", "unchanged", None)
    assert parts_on_server(s3, bucket, str(first.key)) == (None, [])


def test_a_1gib_upload_killed_half_way_sends_only_the_rest(
    s3_env: dict[str, str], s3: Any, s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """Issue #4's case: kill put during 1 GiB, replay its record, only missing parts go."""
    path = tmp_path / "gib.bin"
    md5 = write_random(path, 1024 * MiB)
    stopped = interrupt_upload(s3_env, s3_server.endpoint_url, s3, bucket, path, after_parts=60)
    assert stopped.error == "interrupted"
    upload_id, stored = settled_parts(s3, bucket, path.name)
    assert stopped.upload_id == upload_id
    total = -(-1024 // 5)
    assert 60 <= len(stored) < total

    relay = Tap(s3_server.s3_port, keep=False)
    try:
        [resumed] = run_put(s3_env, relay.url, bucket, stopped)
        sent = part_requests(relay, path.name)
    finally:
        relay.close()
    assert resumed.status == "uploaded", resumed.error
    assert sent == sorted(set(range(1, total + 1)) - set(stored))
    last = 1024 * MiB - (total - 1) * 5 * MiB
    assert resumed.bytes == (total - len(stored)) * 5 * MiB - (
        0 if total in stored else 5 * MiB - last
    )
    assert stored_md5(s3, bucket, path.name) == md5
