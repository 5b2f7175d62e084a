"""``Uploader.begin``, the path every small new file takes, against a real S3 server.

On the driver thread, ``begin`` reads a small new file, starts its PUT on the
native client and returns at once with a ``Started``; the native client calls
``done`` from its own thread, and ``Started.finish`` turns that answer into
the result record. No Python thread waits for the upload. These tests drive
``begin`` as the driver does and check the stored bytes and the record.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from s3pput.put.lane import Started
from s3pput.put.options import PutOptions
from s3pput.put.uploader import INLINE_READ_LIMIT, Uploader
from s3pput.records import Record
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.clients import ClientOptions, make_client, make_putter

WAIT_SECONDS = 120.0
"""How long a test waits for the native client's answer: generous, for a loaded machine."""

UploaderFactory = Callable[..., Uploader]


@pytest.fixture(name="make_uploader")
def fixture_make_uploader(s3_server: LocalS3, bucket: str) -> Iterator[UploaderFactory]:
    """Build uploaders for the test bucket with any PutOptions; closed at the end."""
    made: list[Uploader] = []

    def make(**overrides: Any) -> Uploader:
        client_options = ClientOptions(endpoint_url=s3_server.endpoint_url)
        client = make_client(client_options)
        options = PutOptions(bucket=bucket, **overrides)
        putter = make_putter(
            client_options,
            client,
            part_size=options.part_size,
            multipart_threshold=options.multipart_threshold,
        )
        made.append(Uploader(client, putter, options))
        return made[-1]

    yield make
    for uploader in made:
        uploader.close()


class NativeAnswer:
    """The ``done`` callback the driver gives ``begin``: keeps the answer and its thread."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.answers: list[tuple[object, BaseException | None]] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, response: object, error: BaseException | None) -> None:
        """Called by the native client, on its thread, when the PUT ends."""
        self.answers.append((response, error))
        self.threads.append(threading.current_thread())
        self.arrived.set()

    def wait(self) -> tuple[object, BaseException | None]:
        """The one answer, once it came."""
        assert self.arrived.wait(WAIT_SECONDS), "the native client never answered"
        [answer] = self.answers
        return answer


def file_record(path: Path, data: bytes, key: str) -> Record:
    """A new file and the record walk would write for it."""
    path.write_bytes(data)
    return Record(path=str(path), key=key, size=len(data), mtime=path.stat().st_mtime)


def md5(data: bytes) -> str:
    """Hex MD5, as S3's single-part ETag."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class TestBeginStartsSmallNewFilesInline:
    def test_a_small_new_file_is_started_inline_and_lands_whole(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A Started comes back; its finish gives the uploaded record of the bytes stored."""
        data = os.urandom(3000)
        record = file_record(tmp_path / "page.html", data, "site/page.html")
        uploader = make_uploader(mode="update")
        done = NativeAnswer()

        started = uploader.begin(record, done)

        assert isinstance(started, Started), f"not started inline: {started!r}"
        assert started.size == len(data)
        response, error = done.wait()
        assert done.threads != [threading.current_thread()], "the answer came on the test thread"
        result = started.finish(response, error)
        stored = s3.get_object(Bucket=bucket, Key="site/page.html")
        assert stored["Body"].read() == data
        assert stored["ContentType"] == "text/html"
        assert result.status == "uploaded", result.error
        assert (result.key, result.bucket, result.path) == ("site/page.html", bucket, record.path)
        assert result.md5 == result.etag == md5(data)
        assert (result.bytes, result.size) == (len(data), len(data))
        assert result.content_type == "text/html"
        assert result.attempts == 1
        assert result.seconds is not None
        assert result.ts is not None

    def test_the_record_is_the_one_process_writes(
        self, make_uploader: UploaderFactory, tmp_path: Path
    ) -> None:
        """The inline path and the worker path say the same about the same file."""
        data = b"body{color:red}" * 100
        first = file_record(tmp_path / "a.css", data, "inline/a.css")
        second = file_record(tmp_path / "b.css", data, "worker/a.css")
        uploader = make_uploader(mode="stupid")
        done = NativeAnswer()
        started = uploader.begin(first, done)
        assert isinstance(started, Started)
        inline = started.finish(*done.wait())
        worker = uploader.process(second)
        volatile = {"path": None, "key": None, "mtime": None, "seconds": None, "ts": None}
        assert inline.evolve(**volatile) == worker.evolve(**volatile)


class TestBeginLeavesTheRestToProcess:
    def test_a_file_above_the_inline_limit_goes_to_a_worker(
        self, make_uploader: UploaderFactory, tmp_path: Path
    ) -> None:
        """Larger files are not read on the driver thread: begin answers None, sends nothing."""
        data = os.urandom(INLINE_READ_LIMIT + 1)
        record = file_record(tmp_path / "big.bin", data, "big.bin")
        done = NativeAnswer()
        assert make_uploader(mode="stupid").begin(record, done) is None
        assert not done.arrived.is_set()

    def test_a_dry_run_is_answered_at_once(
        self, make_uploader: UploaderFactory, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A planned record, with no request and no native answer to wait for."""
        record = file_record(tmp_path / "a.txt", b"hello", "a.txt")
        done = NativeAnswer()
        result = make_uploader(mode="stupid", dry_run=True).begin(record, done)
        assert isinstance(result, Record)
        assert (result.status, result.bytes, result.bucket) == ("planned", 5, bucket)
        assert not done.arrived.is_set()
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
