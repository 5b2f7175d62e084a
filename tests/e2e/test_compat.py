"""The compatibility matrix: the same pipelines against SeaweedFS, moto's server and s3rver.

Each store is a real server on loopback (tests/stores.py), reached over HTTP
through the real commands (``s3pput-walk | s3pput-put | s3pput-stat``).
Every assertion is checked against what the store holds (GET, list), not
only against the records. Where a store lacks a feature, the promise is a
clear failed record or a clear exit-2 line, never a silently wrong result;
README.md's table says what each store lacks.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

import pytest
from conftest import Tap

from s3pput.records import Record, from_json, to_json

BIN: Final = Path(sys.executable).parent
WALK: Final = str(BIN / "s3pput-walk")
PUT: Final = str(BIN / "s3pput-put")
STAT: Final = str(BIN / "s3pput-stat")
MiB: Final = 1 << 20
STORES: Final = ("seaweedfs", "moto", "s3rver")
FIXTURES: Final = {"seaweedfs": "s3_server", "moto": "moto_server", "s3rver": "s3rver_server"}
LISTS_PARTS: Final = {"seaweedfs": True, "moto": True, "s3rver": False}
"""Whether the store has ListParts and ListMultipartUploads (s3rver has neither)."""
COPIES_RESERVED: Final = {"seaweedfs": True, "moto": True, "s3rver": False}
"""Whether CopyObject finds a source key with "+", "&", "=" (s3rver reads the escapes
in x-amz-copy-source with JavaScript's decodeURI, which leaves %2B, %26, %3D as they are)."""

SKIPS_AT_PAGE_ENDS: Final = {"seaweedfs": False, "moto": False, "s3rver": True}
"""Whether a listing of more than a page lacks keys the store holds (s3rver resumes each page
past the last key by string order, while it walks ``a/...`` before ``a-b``)."""

HOSTILE: Final = (
    "plain.txt",
    "a b.txt",
    "a+b.txt",
    "a&b.txt",
    "100%.txt",
    "100%25.txt",
    "%41.txt",
    "ünï cödé 文字.txt",
    "dir one/sub+dir/x&y %z.txt",
    "o/a/1",
    "o/a-b",
)
"""Names a listing must give back exactly (no control characters: see test_control_characters)."""
BEGIN_OTHERS: Final = ("a-b", "a.b", "a-c/x")
"""Names whose first part begins with another's ("a"), and sorts before "a/" in S3's order."""
PAGED_NAMES: Final = (*(f"a/{n:04d}" for n in range(1100)), *BEGIN_OTHERS, "a0", "b")
"""Over one page, and names that begin others: S3 lists ``a-b, a-c/x, a.b, a/...``; stores
that walk directories list ``a/...`` first, where a page boundary falls."""


@dataclass
class Target:
    """One store, one fresh bucket on it, and the environment that points the commands at it."""

    name: str
    server: Any
    bucket: str
    env: dict[str, str]
    s3: Any

    def run(
        self, args: list[str], stdin: bytes = b"", *, endpoint: str | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run one command against this store (or ``endpoint``, a relay in front of it)."""
        env = {**self.env, "AWS_ENDPOINT_URL": endpoint or self.server.endpoint_url}
        return subprocess.run(
            args, input=stdin, env=env, capture_output=True, timeout=300, check=False
        )

    def pipeline(
        self, src: Path, prefix: str, *put_args: str, endpoint: str | None = None
    ) -> list[Record]:
        """``s3pput-walk SRC --prefix P | s3pput-put --bucket B ARGS | s3pput-stat``; put's records.

        Each stage runs as its own process, fed the last one's output: the
        records put wrote, and stat's judgement of them, are both checked.
        """
        walked = self.run([WALK, str(src), "--prefix", prefix])
        assert walked.returncode == 0, walked.stderr.decode()[-3000:]
        put = self.run([PUT, "--bucket", self.bucket, *put_args], walked.stdout, endpoint=endpoint)
        assert b"Traceback" not in put.stderr, put.stderr.decode()[-3000:]
        records = [from_json(line) for line in put.stdout.splitlines()]
        assert len(records) == len(walked.stdout.splitlines()), put.stderr.decode()[-3000:]
        stat = self.run([STAT, "--json"], put.stdout)
        failed = any(r.status == "failed" for r in records)
        assert (put.returncode, stat.returncode) == ((1, 1) if failed else (0, 0)), (
            put.stderr.decode()[-3000:]
        )
        return records

    def put(self, records: list[Record], *args: str, endpoint: str | None = None) -> list[Record]:
        """s3pput-put on hand-made records; its result records (one per input)."""
        stdin = b"".join(to_json(r) for r in records)
        done = self.run([PUT, "--bucket", self.bucket, *args], stdin, endpoint=endpoint)
        assert b"Traceback" not in done.stderr, done.stderr.decode()[-3000:]
        results = [from_json(line) for line in done.stdout.splitlines()]
        assert len(results) == len(records), done.stderr.decode()[-3000:]
        return results

    def body(self, key: str, bucket: str | None = None) -> bytes:
        """The bytes the store holds at ``key``."""
        data: bytes = self.s3.get_object(Bucket=bucket or self.bucket, Key=key)["Body"].read()
        return data

    def bodies(self, keys: list[str]) -> dict[str, bytes]:
        """The bytes the store holds at each of ``keys``, fetched a few at a time."""
        with ThreadPoolExecutor(8) as pool:  # boto3 keeps 10 connections
            return dict(zip(keys, pool.map(self.body, keys), strict=True))

    def put_objects(self, objects: dict[str, bytes]) -> None:
        """Write objects as another tool would (boto3), a few at a time."""

        def write(key: str) -> None:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=objects[key])

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(write, objects))

    def keys(self) -> set[str]:
        """Every key the store lists in the bucket (botocore's own listing)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def new_bucket(self) -> str:
        """Another fresh bucket on the same store."""
        name = f"compat-{secrets.token_hex(6)}"
        self.s3.create_bucket(Bucket=name)
        return name


@pytest.fixture(name="target", params=STORES)
def fixture_target(request: pytest.FixtureRequest, tmp_path: Path) -> Target:
    """A fresh bucket on each store in turn; the commands' environment points at that store only."""
    server = request.getfixturevalue(FIXTURES[request.param])
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.update(server.env())
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    target = Target(request.param, server, "", env, server.client())
    target.bucket = target.new_bucket()
    return target


@pytest.fixture(name="tap")
def fixture_tap(target: Target) -> Iterator[Tap]:
    """A relay in front of the store that notes every request line."""
    relay = Tap(target.server.s3_port, keep=False)
    yield relay
    relay.close()


def write_tree(root: Path, names: tuple[str, ...] | list[str]) -> dict[str, bytes]:
    """A file per name (with its own bytes) under ``root``; name -> bytes."""
    files = {}
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = f"{name}\n".encode() * 3
        path.write_bytes(data)
        files[name] = data
    return files


def md5(data: bytes) -> str:
    """The hex MD5 of some bytes (S3's ETag of a single-request object)."""
    return hashlib.md5(data).hexdigest()  # noqa: S324  # S3's digest, not a security measure


def requests(tap: Tap) -> Counter[str]:
    """The requests the relay saw, by kind: "LIST prefix=P", "GET key", "PUT key", "HEAD key"...

    Requests for the bucket itself (such as a check that it exists) are
    counted as "METHOD bucket", apart from the ones about keys.
    """
    kinds: Counter[str] = Counter()
    for line in tap.requests:
        method, target = line.decode().split(" ")[:2]
        path, _, query = target.partition("?")
        fields = dict(item.partition("=")[::2] for item in query.split("&") if item)
        if fields.get("list-type") == "2":
            kinds[f"LIST prefix={unquote(fields.get('prefix', ''))}"] += 1
        elif path.strip("/").count("/") >= 1:
            kinds[f"{method} key"] += 1
        else:
            kinds[f"{method} bucket"] += 1
    return kinds


class TestNames:
    """Hostile names go up intact and come back from a listing as themselves."""

    def test_hostile_names_upload_and_list_back_exactly(
        self, target: Target, tmp_path: Path
    ) -> None:
        """Spaces, +, &, %, unicode: every object holds its file's bytes under its own key."""
        files = write_tree(tmp_path / "src", HOSTILE)
        records = target.pipeline(tmp_path / "src", "h")
        assert {r.status for r in records} == {"uploaded"}, [(r.key, r.error) for r in records]
        assert target.keys() == {f"h/{name}" for name in files}
        for name, data in files.items():
            assert target.body(f"h/{name}") == data, name

    def test_second_run_skips_everything_with_one_listing(
        self, target: Target, tmp_path: Path, tap: Tap
    ) -> None:
        """``--put update`` again: all skipped as unchanged, from one LIST, no HEAD, no PUT."""
        write_tree(tmp_path / "src", HOSTILE)
        first = target.pipeline(tmp_path / "src", "h", "--no-cache")
        assert {r.status for r in first} == {"uploaded"}
        again = target.pipeline(tmp_path / "src", "h", "--no-cache", endpoint=tap.url)
        assert {(r.status, r.reason) for r in again} == {("skipped", "unchanged")}, [
            (r.key, r.status, r.error) for r in again
        ]
        seen = requests(tap)
        assert seen["LIST prefix=h/"] == 1, seen
        assert not [kind for kind in seen if kind.endswith(" key")], seen

    def test_second_run_over_two_pages(self, target: Target, tmp_path: Path, tap: Tap) -> None:
        """1,001 keys list in two pages (a continuation token): all skipped, two LISTs."""
        src = tmp_path / "src"
        src.mkdir()
        for n in range(1001):
            (src / f"f{n:04d}+.txt").write_bytes(b"%d" % n)
        first = target.pipeline(src, "p", "--no-cache", "-j", "32")
        assert {r.status for r in first} == {"uploaded"}
        again = target.pipeline(src, "p", "--no-cache", endpoint=tap.url)
        assert {(r.status, r.reason) for r in again} == {("skipped", "unchanged")}, [
            (r.key, r.status, r.error) for r in again if r.status != "skipped"
        ][:5]
        seen = requests(tap)
        assert seen["LIST prefix=p/"] == 2, seen
        assert not [kind for kind in seen if kind.endswith(" key")], seen

    def test_add_never_overwrites(self, target: Target, tmp_path: Path, tap: Tap) -> None:
        """``--put add`` over keys that exist (written by another tool): every old object stays."""
        files = write_tree(tmp_path / "src", HOSTILE)
        for name in files:
            target.s3.put_object(
                Bucket=target.bucket, Key=f"h/{name}", Body=b"old " + name.encode()
            )
        records = target.pipeline(tmp_path / "src", "h", "--put", "add", endpoint=tap.url)
        assert {(r.status, r.reason) for r in records} == {("skipped", "exists")}, [
            (r.key, r.status, r.reason, r.error) for r in records
        ]
        for name in files:
            assert target.body(f"h/{name}") == b"old " + name.encode(), name
        assert requests(tap)["PUT key"] == 0, tap.requests

    def test_add_never_overwrites_a_key_a_paged_listing_lost(
        self, target: Target, tmp_path: Path, tap: Tap
    ) -> None:
        """``--put add`` over 1,100 keys and names that begin others: no old object is replaced.

        s3rver walks ``p/a/...`` before ``p/a-b`` and ``p/a.b``, but resumes
        its second page after ``p/a/0999`` by string order, so those two
        never appear in the listing that says it is complete.
        """
        files = write_tree(tmp_path / "src", PAGED_NAMES)
        old = {f"p/{name}": b"old " + name.encode() for name in files}
        target.put_objects(old)
        records = target.pipeline(tmp_path / "src", "p", "--put", "add", endpoint=tap.url)
        assert {(r.status, r.reason) for r in records} == {("skipped", "exists")}, [
            (r.key, r.status, r.reason, r.error) for r in records if r.status != "skipped"
        ]
        seen = requests(tap)
        assert seen["PUT key"] == 0, seen
        heads = len(BEGIN_OTHERS) if SKIPS_AT_PAGE_ENDS[target.name] else 0
        assert seen["HEAD key"] == heads, seen  # only the keys a page end could have skipped
        held = target.bodies(list(old))
        assert [key for key in old if held[key] != old[key]] == []

    def test_control_characters(self, target: Target, tmp_path: Path) -> None:
        """A name with a control character goes up, and a second run knows it is there."""
        names = ["ctl\x01char.txt", "tab\there.txt", "plain.txt"]
        files = write_tree(tmp_path / "src", names)
        first = target.pipeline(tmp_path / "src", "c", "--allow-control-keys", "--no-cache")
        assert {r.status for r in first} == {"uploaded"}, [(r.key, r.error) for r in first]
        for name, data in files.items():
            assert target.body(f"c/{name}") == data, name
        again = target.pipeline(tmp_path / "src", "c", "--allow-control-keys", "--no-cache")
        assert {(r.status, r.reason) for r in again} == {("skipped", "unchanged")}, [
            (r.key, r.status, r.error) for r in again
        ]
        added = target.pipeline(tmp_path / "src", "c", "--allow-control-keys", "--put", "add")
        assert {(r.status, r.reason) for r in added} == {("skipped", "exists")}


class TestIntegrity:
    """The record's md5 is the MD5 of the bytes the store holds; damage is never called stored."""

    def test_md5_is_the_stored_bytes(self, target: Target, tmp_path: Path) -> None:
        """Every uploaded record's md5 equals the MD5 of the object fetched back with GET."""
        files = write_tree(tmp_path / "src", ["one.txt", "two.bin", "deep/three.txt"])
        (tmp_path / "src" / "empty").write_bytes(b"")
        files["empty"] = b""
        records = target.pipeline(tmp_path / "src", "m")
        for record in records:
            assert record.status == "uploaded", (record.key, record.error)
            assert record.key is not None
            body = target.body(record.key)
            name = record.key.removeprefix("m/")
            assert body == files[name], name
            assert record.md5 == md5(body) == md5(files[name]), name
            assert record.bytes == len(body)

    def test_damaged_body_is_never_uploaded_nor_cached(
        self, target: Target, tmp_path: Path
    ) -> None:
        """A byte flipped in flight: the record is not ``uploaded``, and the next run repairs it.

        Needs Content-MD5 (or a local MD5 against the ETag) where the store
        does not check the checksum header it is sent: moto and s3rver do not.
        """
        marker = b"DAMAGE-HERE-0123456789"
        src = tmp_path / "src"
        src.mkdir()
        files = {f"f{n}.bin": marker + os.urandom(2000) + marker for n in range(3)}
        for name, data in files.items():
            (src / name).write_bytes(data)
        cache = tmp_path / "cache.sqlite"
        tap = Tap(target.server.s3_port, corrupt=(marker, b"DAMAGE-HERE-0123456788"))
        try:
            first = target.pipeline(src, "d", "--cache", str(cache), endpoint=tap.url)
        finally:
            tap.close()
        assert tap.corrupted > 0
        for record in first:
            assert record.key is not None
            assert record.status == "failed", (record.key, record.status, record.md5)
        again = target.pipeline(src, "d", "--cache", str(cache))
        for record in again:
            assert record.key is not None
            assert record.status == "uploaded", (record.key, record.status, record.reason)
            assert target.body(record.key) == files[record.key.removeprefix("d/")]


class TestFeatures:
    """Multipart uploads and their resume, server-side copy, gzip."""

    def test_multipart_upload(self, target: Target, tmp_path: Path) -> None:
        """A file above the threshold goes up in parts; the object is the file, its md5 too."""
        path = tmp_path / "big.bin"
        data = os.urandom(11 * MiB)
        path.write_bytes(data)
        args = ["--multipart-threshold", "5M", "--part-size", "5M"]
        [record] = target.put([Record(path=str(path), key="big/big.bin")], *args)
        assert record.status == "uploaded", record.error
        assert target.body("big/big.bin") == data
        assert record.md5 in {None, md5(data)}  # put need not read a file in parts whole
        [again] = target.put([Record(path=str(path), key="big/big.bin")], *args, "--no-cache")
        assert (again.status, again.reason) == ("skipped", "unchanged"), again.error

    def test_resume_sends_only_the_missing_parts(
        self, target: Target, tmp_path: Path, tap: Tap
    ) -> None:
        """A record with the id of an upload that holds part 1: the object ends whole.

        Where the store can list parts, part 1 is not sent again; where it
        cannot (s3rver), the upload starts afresh rather than failing forever.
        """
        path = tmp_path / "big.bin"
        data = os.urandom(11 * MiB)
        path.write_bytes(data)
        created = target.s3.create_multipart_upload(Bucket=target.bucket, Key="r/big.bin")
        upload_id = created["UploadId"]
        target.s3.upload_part(
            Bucket=target.bucket,
            Key="r/big.bin",
            UploadId=upload_id,
            PartNumber=1,
            Body=data[: 5 * MiB],
        )
        record = Record(path=str(path), key="r/big.bin", upload_id=upload_id, part_size=5 * MiB)
        args = ["--multipart-threshold", "5M", "--part-size", "5M"]
        [result] = target.put([record], *args, endpoint=tap.url)
        assert result.status == "uploaded", result.error
        assert (result.upload_id, result.part_size) == (None, None)
        assert target.body("r/big.bin") == data
        assert result.md5 in {None, md5(data)}
        parts = sorted(
            int(line.split(b"partNumber=")[1].split(b"&")[0].split(b" ")[0])
            for line in tap.requests
            if line.startswith(b"PUT ") and b"partNumber=" in line
        )
        assert parts == ([2, 3] if LISTS_PARTS[target.name] else [1, 2, 3]), tap.requests

    def test_server_side_copy(self, target: Target) -> None:
        """``--put copy --source-bucket``: the objects are copied, hostile names and all.

        Where the store cannot find a source named with "+" or "&" (s3rver),
        that record fails with the store's NoSuchKey and nothing is written.
        """
        source = target.new_bucket()
        plain = ["c/plain.txt", "c/sp ace%.txt", "c/ünï.txt"]
        reserved = ["c/a+b c&d.txt"]
        for name in plain + reserved:
            target.s3.put_object(Bucket=source, Key=name, Body=name.encode() * 10)
        records = [Record(key=name) for name in plain + reserved]
        results = target.put(records, "--put", "copy", "--source-bucket", source)
        status = {r.key: (r.status, r.error) for r in results}
        copied = plain + reserved if COPIES_RESERVED[target.name] else plain
        assert {status[name] for name in copied} == {("uploaded", None)}, status
        for name in set(reserved) - set(copied):
            assert status[name] == (
                "failed",
                "CopyObject: NoSuchKey The specified key does not exist.",
            )
        assert target.keys() == set(copied)
        for name in copied:
            assert target.body(name) == name.encode() * 10

    def test_copy_from_a_walked_bucket(self, target: Target) -> None:
        """``s3pput-walk s3://SRC | s3pput-put --put copy``: every object lands under the prefix."""
        source = target.new_bucket()
        names = ["w/one.txt", "w/x y%z.txt"]
        for name in names:
            target.s3.put_object(Bucket=source, Key=name, Body=b"copy of " + name.encode())
        walked = target.run([WALK, "--walk", "s3", f"s3://{source}/w/", "--prefix", "copied"])
        assert walked.returncode == 0, walked.stderr.decode()
        put = target.run([PUT, "--bucket", target.bucket, "--put", "copy"], walked.stdout)
        results = [from_json(line) for line in put.stdout.splitlines()]
        assert {r.status for r in results} == {"uploaded"}, put.stderr.decode()[-3000:]
        assert target.keys() == {"copied/one.txt", "copied/x y%z.txt"}
        assert target.body("copied/x y%z.txt") == b"copy of w/x y%z.txt"

    def test_gzip(self, target: Target, tmp_path: Path) -> None:
        """``--gzip``: the object is gzip, says so, and decompresses to the file."""
        src = tmp_path / "src"
        src.mkdir()
        text = b"the same line again and again\n" * 500
        (src / "page.html").write_bytes(text)
        [record] = target.pipeline(src, "g", "--gzip")
        assert record.status == "uploaded", record.error
        answer = target.s3.get_object(Bucket=target.bucket, Key="g/page.html")
        assert answer.get("ContentEncoding") == "gzip"
        stored = answer["Body"].read()
        assert len(stored) < len(text)
        assert gzip.decompress(stored) == text


class TestIncomplete:
    """``--abort-incomplete`` aborts where the store can list uploads, and says so where not."""

    def test_abort_incomplete(self, target: Target) -> None:
        """One upload under the prefix is aborted; a store without ListMultipartUploads: exit 2."""
        created = target.s3.create_multipart_upload(Bucket=target.bucket, Key="inc/x.bin")
        done = target.run([PUT, "--bucket", target.bucket, "--abort-incomplete", "inc/"])
        assert b"Traceback" not in done.stderr, done.stderr.decode()
        if LISTS_PARTS[target.name]:
            assert done.returncode == 0, done.stderr.decode()
            assert done.stdout.startswith(b"aborted 1 incomplete uploads"), done.stdout
            uploads = target.s3.list_multipart_uploads(Bucket=target.bucket).get("Uploads", [])
            assert created["UploadId"] not in {u["UploadId"] for u in uploads}
        else:
            assert done.returncode == 2, done.stderr.decode()
            assert done.stdout == b""
            lines = done.stderr.decode().strip().splitlines()
            assert len(lines) == 1, lines
            assert "ListMultipartUploads" in lines[0], lines
