"""The put core against a real S3 server: what lands in the bucket and what the record says."""

from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3.s3.transfer
import pytest
from botocore.credentials import RefreshableCredentials
from conftest import Tap

from s3pput.put.options import PutOptions
from s3pput.put.unchanged import PART_SIZE_METADATA
from s3pput.put.uploader import Uploader
from s3pput.records import Record, from_json, to_json
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.clients import ClientOptions, make_client, make_putter
from s3pput.transport.native import NativePutter

MiB = 1 << 20
UploaderFactory = Callable[..., Uploader]


@pytest.fixture(name="make_uploader")
def fixture_make_uploader(s3_server: LocalS3, bucket: str) -> UploaderFactory:
    """Build uploaders for the test bucket with any PutOptions."""

    def make(**overrides: Any) -> Uploader:
        client_options = ClientOptions(endpoint_url=s3_server.endpoint_url)
        client = make_client(client_options)
        options = PutOptions(bucket=overrides.pop("bucket", bucket), **overrides)
        putter = make_putter(
            client_options,
            client,
            part_size=options.part_size,
            multipart_threshold=options.multipart_threshold,
        )
        return Uploader(client, putter, options)

    return make


def write(path: Path, data: bytes) -> Record:
    """Create a file and the record walk would emit for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Record(path=str(path), key=path.name, size=len(data), mtime=path.stat().st_mtime)


def body(s3: Any, bucket: str, key: str) -> bytes:
    """Read an object back."""
    data: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return data


class TestUpload:
    def test_uploaded_bytes_and_record(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A file lands byte for byte; the record says uploaded with its ETag, MD5 and type."""
        data = os.urandom(5000)
        result = make_uploader().process(write(tmp_path / "a.html", data))
        assert result.status == "uploaded", result.error
        assert body(s3, bucket, "a.html") == data
        assert result.md5 == result.etag == hashlib.md5(data).hexdigest()  # noqa: S324  # ETag is MD5
        assert result.bytes == 5000
        assert result.content_type == "text/html"
        assert result.bucket == bucket
        assert result.seconds is not None
        assert result.ts is not None

    def test_user_fields_survive(self, make_uploader: UploaderFactory, tmp_path: Path) -> None:
        """Fields put does not know are in its output unchanged."""
        record = write(tmp_path / "a", b"x")
        record = from_json(to_json(record)[:-2] + b',"mine":{"n":[1,2]}}')
        result = from_json(to_json(make_uploader().process(record)))
        assert result.extra == {"mine": {"n": [1, 2]}}

    def test_missing_key_comes_from_the_path(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A record with only a path uploads to the path without its leading slash."""
        path = tmp_path / "k.txt"
        path.write_bytes(b"k")
        result = make_uploader().process(Record(path=str(path)))
        assert result.key == str(path).lstrip("/")
        assert body(s3, bucket, result.key or "") == b"k"

    def test_non_utf8_file_name(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A file whose name is not UTF-8 is read by its exact bytes and uploads to its key."""
        raw = os.fsencode(tmp_path) + b"/caf\xe9"
        Path(os.fsdecode(raw)).write_bytes(b"latin")
        result = make_uploader().process(Record(path=os.fsdecode(raw), key="caf%E9"))
        assert result.status == "uploaded", result.error
        assert body(s3, bucket, "caf%E9") == b"latin"

    def test_large_file_goes_up_in_parts(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A file over the threshold is a multipart upload that a second run recognises."""
        data = os.urandom(12 * MiB + 3)
        uploader = make_uploader(multipart_threshold=5 * MiB, part_size=5 * MiB)
        result = uploader.process(write(tmp_path / "big", data))
        assert result.status == "uploaded", result.error
        assert (result.etag or "").endswith("-3")
        assert body(s3, bucket, "big") == data
        head = s3.head_object(Bucket=bucket, Key="big")
        assert head["Metadata"][PART_SIZE_METADATA] == str(5 * MiB)
        again = uploader.process(write(tmp_path / "big", data))
        assert (again.status, again.reason) == ("skipped", "unchanged")
        assert again.md5 == hashlib.md5(data).hexdigest()  # noqa: S324  # S3's ETag algorithm


class TestPutModes:
    def test_update_skips_unchanged_and_uploads_same_size_edits(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """`update` skips identical content and re-uploads a one-byte, same-size change."""
        uploader = make_uploader()
        record = write(tmp_path / "f", b"aaaa")
        assert uploader.process(record).status == "uploaded"
        again = uploader.process(record)
        assert (again.status, again.reason, again.bytes) == ("skipped", "unchanged", 0)
        write(tmp_path / "f", b"aaab")
        assert uploader.process(record).status == "uploaded"
        assert body(s3, bucket, "f") == b"aaab"

    def test_update_understands_multipart_objects_from_other_tools(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """An object uploaded in 5 MiB parts by another tool (no s3pput metadata) is recognised."""
        data = os.urandom(11 * MiB)
        record = write(tmp_path / "other", data)
        config = boto3.s3.transfer.TransferConfig(
            multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB
        )
        s3.upload_file(str(tmp_path / "other"), bucket, "other", Config=config)
        assert "-" in s3.head_object(Bucket=bucket, Key="other")["ETag"]
        for threshold in (8 * MiB, 64 * MiB):  # the large-file path and the in-memory path
            result = make_uploader(multipart_threshold=threshold).process(record)
            assert (result.status, result.reason) == ("skipped", "unchanged"), result.error
        edited = bytearray(data)
        edited[-1] ^= 1
        write(tmp_path / "other", bytes(edited))
        assert make_uploader().process(record).status == "uploaded"

    def test_add_never_overwrites(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """`add` uploads new keys and skips existing ones even when they differ."""
        s3.put_object(Bucket=bucket, Key="f", Body=b"old")
        result = make_uploader(mode="add").process(write(tmp_path / "f", b"new"))
        assert (result.status, result.reason) == ("skipped", "exists")
        assert body(s3, bucket, "f") == b"old"
        assert make_uploader(mode="add").process(write(tmp_path / "g", b"g")).status == "uploaded"

    def test_stupid_always_uploads(self, make_uploader: UploaderFactory, tmp_path: Path) -> None:
        """`stupid` uploads without looking at what is there."""
        uploader = make_uploader(mode="stupid")
        record = write(tmp_path / "f", b"same")
        assert uploader.process(record).status == "uploaded"
        assert uploader.process(record).status == "uploaded"

    def test_copy_is_server_side(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str
    ) -> None:
        """`copy` copies an object from the record's source bucket without local files."""
        source = bucket + "-src"
        s3.create_bucket(Bucket=source)
        s3.put_object(Bucket=source, Key="a/b", Body=b"copied")
        record = Record(key="a/b", extra={"source_bucket": source})
        result = make_uploader(mode="copy").process(record)
        assert result.status == "uploaded", result.error
        assert body(s3, bucket, "a/b") == b"copied"

    def test_dry_run_plans_and_sends_nothing(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """`--dry-run` reports planned (or skipped) and the bucket stays empty."""
        result = make_uploader(dry_run=True).process(write(tmp_path / "f", b"x"))
        assert (result.status, result.bytes) == ("planned", 1)
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


class TestObjectSettings:
    def test_gzip_compresses_text_types_only(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """`--gzip` compresses text/html and sets Content-Encoding; a PNG goes up as is."""
        uploader = make_uploader(gzip=True)
        html = b"<p>hello</p>" * 100
        result = uploader.process(write(tmp_path / "i.html", html))
        assert (result.content_encoding, result.bytes) == (
            "gzip",
            len(gzip.compress(html, mtime=0)),
        )
        got = s3.get_object(Bucket=bucket, Key="i.html")
        assert got["ContentEncoding"] == "gzip"
        assert gzip.decompress(got["Body"].read()) == html
        png = uploader.process(write(tmp_path / "p.png", b"\x89PNG"))
        assert png.content_encoding is None
        assert uploader.process(write(tmp_path / "i.html", html)).status == "skipped"

    def test_gzip_of_a_large_file_is_streamed(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A large file with --gzip-type all goes up compressed in parts, byte-exact."""
        data = os.urandom(2 * MiB) * 4
        uploader = make_uploader(
            gzip=True, gzip_types=None, multipart_threshold=5 * MiB, part_size=5 * MiB
        )
        result = uploader.process(write(tmp_path / "big.bin", data))
        assert result.status == "uploaded", result.error
        assert gzip.decompress(body(s3, bucket, "big.bin")) == data
        assert uploader.process(write(tmp_path / "big.bin", data)).status == "skipped"

    def test_content_type_modes(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Magic sniffs a PNG without extension; a literal type is used as given."""
        png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
        make_uploader(content_type="magic").process(write(tmp_path / "noext", png))
        assert s3.head_object(Bucket=bucket, Key="noext")["ContentType"] == "image/png"
        make_uploader(content_type="x/y").process(write(tmp_path / "a.html", b"x"))
        assert s3.head_object(Bucket=bucket, Key="a.html")["ContentType"] == "x/y"

    def test_headers_metadata_and_storage_class_reach_the_object(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Cache-Control, metadata and a storage class are stored with the object."""
        uploader = make_uploader(
            parameters={"CacheControl": "max-age=60", "StorageClass": "STANDARD_IA"},
            metadata={"team": "data"},
        )
        assert uploader.process(write(tmp_path / "f", b"x")).status == "uploaded"
        head = s3.head_object(Bucket=bucket, Key="f")
        assert head["CacheControl"] == "max-age=60"
        assert head["StorageClass"] == "STANDARD_IA"
        assert head["Metadata"]["team"] == "data"

    def test_acl_and_encryption_headers_are_sent(
        self, bucket: str, tap: Tap, tmp_path: Path
    ) -> None:
        """--grant and --encrypt-key become x-amz-acl and x-amz-server-side-encryption.

        SeaweedFS ignores canned ACLs and has no SSE-S3 key by default, so the
        test reads the real request on the wire through a relay instead.
        """
        client_options = ClientOptions(endpoint_url=tap.url)
        client = make_client(client_options)
        options = PutOptions(
            bucket=bucket,
            parameters={"ACL": "public-read", "ServerSideEncryption": "AES256"},
            raw_headers=(("X-Custom-Thing", "yes"),),
        )
        putter = make_putter(client_options, client, part_size=8 * MiB, multipart_threshold=8 * MiB)
        result = Uploader(client, putter, options).process(write(tmp_path / "f", b"x"))
        assert result.status in {"uploaded", "failed"}
        sent = tap.sent().lower()
        assert b"\r\nx-amz-acl: public-read\r\n" in sent
        assert b"\r\nx-amz-server-side-encryption: aes256\r\n" in sent
        assert b"\r\nx-custom-thing: yes\r\n" in sent


class TestFailures:
    def test_vanished_file(self, make_uploader: UploaderFactory, tmp_path: Path) -> None:
        """A file deleted after walk gives a failed record naming it."""
        result = make_uploader().process(Record(path=str(tmp_path / "gone"), key="gone"))
        assert result.status == "failed"
        assert "No such file" in (result.error or "")

    def test_missing_bucket(self, make_uploader: UploaderFactory, tmp_path: Path) -> None:
        """A bucket that does not exist gives NoSuchBucket, not a crash."""
        result = make_uploader(bucket="no-such-bucket-here").process(write(tmp_path / "f", b"x"))
        assert result.status == "failed"
        assert "NoSuchBucket" in (result.error or "")

    @pytest.mark.parametrize("key", ["", "k" * 1025])
    def test_keys_s3_refuses_fail_before_any_request(
        self, make_uploader: UploaderFactory, tmp_path: Path, key: str
    ) -> None:
        """Empty and over-long keys fail with a clear error."""
        write(tmp_path / "f", b"x")
        result = make_uploader().process(Record(path=str(tmp_path / "f"), key=key))
        assert result.status == "failed"
        assert result.error

    def test_walk_failures_pass_through(self, make_uploader: UploaderFactory) -> None:
        """A record walk already failed is forwarded unchanged, never retried as an upload."""
        record = Record(path="/dev/null", key="x").failed("walk", "not a regular file: fifo")
        assert make_uploader().process(record) == record

    def test_replayed_failure_uploads(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A failed result fed back to put is retried and its old error replaced."""
        record = write(tmp_path / "f", b"x").failed("put", "PutObject: SlowDown")
        result = make_uploader().process(record)
        assert (result.status, result.error) == ("uploaded", None)
        assert body(s3, bucket, "f") == b"x"


class TestCredentials:
    def test_refreshable_credentials_are_asked_at_signing(
        self, s3_server: LocalS3, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Role-style credentials that refresh themselves sign the native client's requests."""

        def refresh() -> dict[str, str]:
            return {
                "access_key": s3_server.access_key,
                "secret_key": s3_server.secret_key,
                "token": "",
                "expiry_time": "2099-01-01T00:00:00Z",
            }

        credentials = RefreshableCredentials.create_from_metadata(
            refresh(), refresh_using=refresh, method="test"
        )
        putter = NativePutter(
            endpoint_url=s3_server.endpoint_url,
            region="us-east-1",
            credentials=credentials,
        )
        client = make_client(ClientOptions(endpoint_url=s3_server.endpoint_url))
        result = Uploader(client, putter, PutOptions(bucket=bucket)).process(
            write(tmp_path / "r", b"refreshed")
        )
        assert result.status == "uploaded", result.error
        assert body(s3, bucket, "r") == b"refreshed"
