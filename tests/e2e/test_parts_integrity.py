"""An upload in parts stores the file's bytes or fails: never a mix, never damage called done.

End to end on the real server: a file rewritten in place while its parts go
up fails ``changed while uploading`` and leaves the object as it was (issue
#13, item 1); a part the store kept damaged, where it checks no checksum,
fails the record; and a store that cannot list parts (no ListParts) starts a
replayed upload again instead of failing forever.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from faultproxy import FaultProxy, RequestInfo, Switch, answer
from resigning import ChecksumBlindStore
from test_large import stored_md5, write_random
from test_resume import parts_on_server, run_put

from s3pput.records import Record, from_json, to_json
from s3pput.sandbox.local_s3 import LocalS3

MiB = 1 << 20


def put_records(
    env: dict[str, str], bucket: str, records: list[Record], *options: str
) -> list[Record]:
    """s3pput-put with ``options`` on some records; their results."""
    done = subprocess.run(
        ["s3pput-put", "--bucket", bucket, "--part-size", "5M", *options],
        input=b"".join(to_json(r) for r in records),
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    return [from_json(line) for line in done.stdout.splitlines()]


def rewrite_in_place(path: Path) -> str:
    """Overwrite every byte of ``path`` with new random ones, same inode and size; their MD5."""
    data = os.urandom(path.stat().st_size)
    with path.open("r+b") as out:
        out.write(data)
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def truncate_to_one_part(path: Path) -> str:
    """Cut ``path`` to its first 6 MiB, as a log rotated under an upload is; its new MD5."""
    os.truncate(path, 6 * MiB)
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def rewrite_during_upload(
    env: dict[str, str],
    s3: Any,
    bucket: str,
    path: Path,
    change: Callable[[Path], str] = rewrite_in_place,
) -> tuple[Record, str]:
    """Put ``path`` slowly, ``change`` it once a part is stored; (its record, the new MD5)."""
    slowly = ["--max-bandwidth", "2M", "--put", "update", "--no-cache"]
    put = subprocess.Popen(
        ["s3pput-put", "--bucket", bucket, "--part-size", "5M", *slowly],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert put.stdin is not None
        put.stdin.write(to_json(Record(path=str(path), key=path.name)))
        put.stdin.close()
        deadline = time.monotonic() + 120
        while not parts_on_server(s3, bucket, path.name)[1]:
            assert put.poll() is None, "put ended before a part was stored"
            assert time.monotonic() < deadline, "no part ever arrived"
            time.sleep(0.05)
        new_md5 = change(path)
        assert put.stdout is not None
        out = put.stdout.read()
        assert put.stderr is not None
        err = put.stderr.read()
        put.wait(timeout=120)
    finally:
        if put.poll() is None:
            put.kill()
            put.wait()
    assert b"Traceback" not in err, err.decode()
    [result] = [from_json(line) for line in out.splitlines()]
    return result, new_md5


@pytest.mark.parametrize("rerun", [[], ["--no-cache"]], ids=["cache", "no-cache"])
def test_a_file_rewritten_while_it_goes_up_fails_and_the_next_run_uploads_it(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path, rerun: list[str]
) -> None:
    """Issue #13 item 1: no mixed object recorded uploaded; the old one stays; a rerun fixes it."""
    path = tmp_path / "rewritten.bin"
    old = os.urandom(30 * MiB)
    s3.put_object(Bucket=bucket, Key=path.name, Body=old)
    old_md5 = hashlib.md5(old, usedforsecurity=False).hexdigest()
    write_random(path, 30 * MiB)

    result, new_md5 = rewrite_during_upload(s3_env, s3, bucket, path)
    assert (result.status, result.error) == ("failed", "changed while uploading")
    assert (result.upload_id, result.md5) == (None, None)
    assert parts_on_server(s3, bucket, path.name) == (None, [])  # aborted
    assert stored_md5(s3, bucket, path.name) == old_md5  # untouched

    [again] = put_records(s3_env, bucket, [Record(path=str(path), key=path.name)], *rerun)
    assert again.status == "uploaded", again.error
    assert again.md5 == new_md5
    assert stored_md5(s3, bucket, path.name) == new_md5
    head = s3.head_object(Bucket=bucket, Key=path.name)
    assert head["Metadata"]["s3pput-md5"] == new_md5

    [third] = put_records(s3_env, bucket, [Record(path=str(path), key=path.name)])
    assert (third.status, third.reason) == ("skipped", "unchanged")


def test_a_file_cut_short_while_it_goes_up_says_it_changed(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """Issue #16 item 11: a truncated file's part is not "AWS_ERROR_UNKNOWN: Unknown error"."""
    path = tmp_path / "truncated.bin"
    write_random(path, 30 * MiB)

    result, new_md5 = rewrite_during_upload(s3_env, s3, bucket, path, truncate_to_one_part)
    assert (result.status, result.error) == ("failed", "changed while uploading")
    assert parts_on_server(s3, bucket, path.name) == (None, [])  # aborted

    [again] = put_records(s3_env, bucket, [Record(path=str(path), key=path.name)])
    assert (again.status, again.md5) == ("uploaded", new_md5)


def damage_of(data: bytes) -> tuple[bytes, bytes]:
    """(16 bytes from the middle of ``data``, the same with the first flipped)."""
    middle = len(data) // 2
    run = data[middle : middle + 16]
    return run, bytes([run[0] ^ 0xFF]) + run[1:]


def test_a_part_the_store_kept_damaged_fails_the_record(
    s3_env: dict[str, str], s3: Any, s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """A store that checks no checksum keeps a damaged part: its ETag is not the MD5 sent."""
    path = tmp_path / "damaged.bin"
    data = os.urandom(12 * MiB)
    path.write_bytes(data)
    keys = (s3_server.access_key, s3_server.secret_key)
    store = ChecksumBlindStore(s3_server.s3_port, keys, damage=damage_of(data))
    try:
        [result] = put_records(
            s3_env,
            bucket,
            [Record(path=str(path), key=path.name)],
            "--endpoint-url",
            store.url,
            "--put",
            "stupid",
        )
    finally:
        store.close()
    assert store.damaged == 1, "no part was damaged: nothing was tested"
    assert result.status == "failed"
    assert "did not keep the bytes sent" in str(result.error), result.error
    assert "ETag" in str(result.error)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert parts_on_server(s3, bucket, path.name) == (None, [])  # aborted


def test_a_store_that_checks_no_checksum_still_takes_honest_parts(
    s3_env: dict[str, str], s3: Any, s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """The control: the same relay, nothing damaged; every part's ETag is its MD5."""
    path = tmp_path / "honest.bin"
    md5 = write_random(path, 12 * MiB)
    store = ChecksumBlindStore(s3_server.s3_port, (s3_server.access_key, s3_server.secret_key))
    try:
        [result] = put_records(
            s3_env,
            bucket,
            [Record(path=str(path), key=path.name)],
            "--endpoint-url",
            store.url,
            "--put",
            "stupid",
        )
    finally:
        store.close()
    assert result.status == "uploaded", result.error
    assert result.checksum is None  # the store said none
    assert stored_md5(s3, bucket, path.name) == md5


def is_list_parts(request: RequestInfo) -> bool:
    """ListParts: a GET with an uploadId (UploadPart is a PUT)."""
    return request.method == "GET" and "uploadId" in request.params


@pytest.mark.parametrize(
    ("status", "code"), [(405, "MethodNotAllowed"), (501, "NotImplemented")], ids=["405", "501"]
)
def test_a_replay_where_the_store_cannot_list_parts_starts_again(  # noqa: PLR0913, PLR0917  # fixtures and a case
    s3_env: dict[str, str],
    s3: Any,
    s3_server: LocalS3,
    bucket: str,
    tmp_path: Path,
    status: int,
    code: str,
) -> None:
    """s3rver has no ListParts: the record's upload is aborted and a new one sends everything."""
    path = tmp_path / "unlisted.bin"
    md5 = write_random(path, 12 * MiB)
    created = s3.create_multipart_upload(Bucket=bucket, Key=path.name)
    first = path.read_bytes()[: 5 * MiB]
    s3.upload_part(
        Bucket=bucket, Key=path.name, UploadId=created["UploadId"], PartNumber=1, Body=first
    )
    record = Record(path=str(path), key=path.name, upload_id=created["UploadId"], part_size=5 * MiB)
    with FaultProxy(s3_server.s3_port, Switch(answer(status, code), where=is_list_parts)) as proxy:
        [result] = run_put(s3_env, proxy.url, bucket, record)
        refused = proxy.counts["ANSWER"]
    assert refused >= 1, "ListParts was never asked: nothing was tested"
    assert result.status == "uploaded", result.error
    assert result.bytes == 12 * MiB  # all parts again
    assert (result.upload_id, result.part_size) == (None, None)
    assert stored_md5(s3, bucket, path.name) == md5
    assert parts_on_server(s3, bucket, path.name) == (None, [])  # the old upload was aborted
