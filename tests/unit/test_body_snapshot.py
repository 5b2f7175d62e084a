"""A file sent in one request: the bytes read are the version put decided to send.

And the store's answer is checked against them (the runs against a server are
in e2e/test_single_request.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from s3pput.errors import ChangedWhileUploadingError, NotRegularFileError, StoredOtherBytesError
from s3pput.put.body import check_stored, read_snapshot
from s3pput.transport.checksums import part_checksum
from s3pput.transport.native import PutResponse

KiB = 1024


def md5(data: bytes) -> str:
    """Hex MD5."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def rewrite_on_call(path: Path, call: int) -> Callable[[int], os.stat_result]:
    """An fstat that, at its ``call``-th use, rewrites the file in place first (same size).

    The new mtime is set apart explicitly: a file system's clock ticks
    coarsely, and this test is about the check, not the clock.
    """
    calls = [0]

    def fstat(fd: int) -> os.stat_result:
        calls[0] += 1
        if calls[0] == call:
            data = path.read_bytes()
            with path.open("r+b") as rewrite:
                rewrite.write(bytes([data[0] ^ 0xFF]) + data[1:])
            before = path.stat()
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        return os.fstat(fd)

    return fstat


class TestSnapshot:
    def test_a_file_that_held_still_is_read_whole(self, tmp_path: Path) -> None:
        """The bytes, their MD5 and the version they were read from."""
        path = tmp_path / "f"
        path.write_bytes(b"hello world")
        snapshot = read_snapshot(str(path), path.stat())
        assert snapshot.data == b"hello world"
        assert snapshot.md5 == md5(b"hello world")
        assert snapshot.identity.st_ino == path.stat().st_ino

    @pytest.mark.parametrize("call", [1, 2], ids=["before the read", "after the read"])
    def test_a_file_rewritten_while_it_is_read_is_refused(self, tmp_path: Path, call: int) -> None:
        """Rewritten after put's stat: before the descriptor's first look, or after the read."""
        path = tmp_path / "f"
        path.write_bytes(os.urandom(4 * KiB))
        expected = path.stat()
        with pytest.raises(ChangedWhileUploadingError, match="changed while uploading"):
            read_snapshot(str(path), expected, fstat=rewrite_on_call(path, call))

    def test_a_file_that_grew_is_refused(self, tmp_path: Path) -> None:
        """Appended to after the first fstat: more bytes than its size said."""
        path = tmp_path / "f"
        path.write_bytes(b"x" * 100)

        def fstat_then_append(fd: int) -> os.stat_result:
            result = os.fstat(fd)
            with path.open("ab") as more:
                more.write(b"y")
            return result

        with pytest.raises(ChangedWhileUploadingError):
            read_snapshot(str(path), fstat=fstat_then_append)

    def test_a_file_changed_since_its_stat_is_refused(self, tmp_path: Path) -> None:
        """The stat that decided to send a file must be of the version read."""
        path = tmp_path / "f"
        path.write_bytes(b"old")
        decided = path.stat()
        path.unlink()
        path.write_bytes(b"new")  # another file (inode) under the same name
        with pytest.raises(ChangedWhileUploadingError):
            read_snapshot(str(path), decided)

    @pytest.mark.timeout(60)
    def test_a_fifo_is_refused_at_once(self, tmp_path: Path) -> None:
        """A fifo with no writer: open does not block, the descriptor's kind refuses it."""
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        with pytest.raises(NotRegularFileError, match="not a regular file: fifo"):
            read_snapshot(str(fifo))


class TestStoredCheck:
    def test_an_etag_of_other_bytes_fails(self) -> None:
        """A plain single-part ETag must be the MD5 of the bytes sent."""
        with pytest.raises(StoredOtherBytesError, match="other bytes"):
            check_stored(
                PutResponse(md5(b"other")),
                md5=md5(b"sent"),
                data=b"sent",
                checksum_algorithm="crc32",
                etag_md5=True,
            )

    @pytest.mark.parametrize(
        "etag", ["0123456789abcdef0123456789abcdef-2", "not-an-md5", md5(b"sent").upper()]
    )
    def test_etags_that_are_not_or_are_the_md5_pass(self, etag: str) -> None:
        """Multipart-style and opaque ETags say nothing; the MD5 in capitals is the MD5."""
        check_stored(
            PutResponse(etag),
            md5=md5(b"sent"),
            data=b"sent",
            checksum_algorithm="crc32",
            etag_md5=True,
        )

    def test_with_sse_kms_the_etag_is_not_compared(self) -> None:
        """With SSE-KMS or SSE-C the ETag is not an MD5 at all."""
        check_stored(
            PutResponse(md5(b"other"), encryption="aws:kms"),
            md5=md5(b"sent"),
            data=b"sent",
            checksum_algorithm="crc32",
            etag_md5=False,
        )

    def test_an_echoed_checksum_of_other_bytes_fails(self) -> None:
        """A checksum the store echoes must be the one of the bytes sent."""
        with pytest.raises(StoredOtherBytesError, match="crc32"):
            check_stored(
                PutResponse(md5(b"sent"), checksum=part_checksum("crc32", [b"other"])),
                md5=md5(b"sent"),
                data=b"sent",
                checksum_algorithm="crc32",
                etag_md5=True,
            )
