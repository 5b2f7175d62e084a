"""The pure parts of an upload in parts: the stop's bookkeeping and the hashing of bodies sent.

``Uploads`` decides, between the thread that uploads and the record of an
interrupted run, which upload is left for a replay and which is aborted;
``HashedBody`` hashes a part as the native client reads it.
"""

from __future__ import annotations

import hashlib
import io
import os

import pytest

from s3pput.errors import S3RequestError
from s3pput.put.handover import Uploads, UploadState, stopping
from s3pput.put.part_source import HashedBody
from s3pput.transport.checksums import part_checksum

MiB = 1 << 20


class TestUploads:
    """Whatever the order of the two threads, the record names an upload left on the server."""

    def test_parts_failed_by_the_stop_leave_the_upload_for_the_record(self) -> None:
        """The worker fails first (queued parts fail at once): the record still gets the id."""
        uploads = Uploads()
        tracked = uploads.start("k", None)
        uploads.enter(tracked, "creating")
        uploads.sending(tracked, UploadState("id-1", 5 * MiB))
        assert uploads.failed("k", tracked, stopping()) is False  # not aborted
        assert uploads.hand_over("k", wait=0) == ("id-1", 5 * MiB)

    def test_a_record_written_first_keeps_the_upload_whatever_fails_next(self) -> None:
        """Handed over, the upload is never aborted, even if a part then fails for real."""
        uploads = Uploads()
        tracked = uploads.start("k", None)
        uploads.sending(tracked, UploadState("id-1", 5 * MiB))
        assert uploads.hand_over("k", wait=0) == ("id-1", 5 * MiB)
        assert uploads.failed("k", tracked, S3RequestError("UploadPart: InternalError")) is False

    def test_an_upload_created_after_the_record_is_aborted(self) -> None:
        """The record went out while CreateMultipartUpload ran: it has no id, so the upload goes."""
        uploads = Uploads()
        tracked = uploads.start("k", None)
        uploads.enter(tracked, "creating")
        assert uploads.hand_over("k", wait=0) is None
        with pytest.raises(S3RequestError):
            uploads.sending(tracked, UploadState("id-late", 5 * MiB))
        assert uploads.failed("k", tracked, stopping()) is True  # abort it

    def test_a_real_failure_before_the_record_is_aborted_and_not_named(self) -> None:
        """An upload aborted for its own failure is never the id a record carries."""
        uploads = Uploads()
        tracked = uploads.start("k", None)
        uploads.sending(tracked, UploadState("id-1", 5 * MiB))
        assert uploads.failed("k", tracked, OSError("changed while uploading")) is True
        assert uploads.hand_over("k", wait=0) is None

    def test_an_upload_being_resumed_stays_with_its_record(self) -> None:
        """Stopped while its parts were listed: the record keeps its id, which is not aborted."""
        uploads = Uploads()
        tracked = uploads.start("k", "id-old")
        assert uploads.hand_over("k", wait=0) is None  # keep the record's own fields
        with pytest.raises(S3RequestError):
            uploads.sending(tracked, UploadState("id-old", 5 * MiB))
        assert uploads.failed("k", tracked, stopping()) is False

    def test_a_dropped_upload_is_not_replayed(self) -> None:
        """The record's upload was gone (or aborted) and no new one exists: the id is cleared."""
        uploads = Uploads()
        tracked = uploads.start("k", "id-gone")
        uploads.dropped(tracked)
        uploads.enter(tracked, "creating")
        uploads.failed("k", tracked, stopping())
        assert uploads.hand_over("k", wait=0) == (None, None)

    def test_no_upload_starts_once_the_run_stops(self) -> None:
        """After the first interrupted record, starting an upload fails as interrupted."""
        uploads = Uploads()
        assert uploads.hand_over("other", wait=0) is None
        with pytest.raises(S3RequestError, match="interrupted"):
            uploads.start("k", None)


class TestHashedBody:
    """The digests are of the bytes read, in order, from the start."""

    def test_a_body_read_whole_gives_its_md5_and_checksum(self) -> None:
        """Read in uneven pieces, as the native client may."""
        data = os.urandom(3 * MiB + 17)
        body = HashedBody(io.BytesIO(data), len(data), "crc32c")
        buffer = bytearray(100_000)
        while body.readinto(buffer):
            pass
        assert body.digests() == (
            hashlib.md5(data, usedforsecurity=False).hexdigest(),
            part_checksum("crc32c", [data]),
        )

    def test_a_rewind_starts_the_hashing_again(self) -> None:
        """A retry rewinds the body: only the last full read counts."""
        data = os.urandom(MiB)
        body = HashedBody(io.BytesIO(data), len(data), "sha256")
        body.readinto(bytearray(1000))
        body.seek(0)
        buffer = bytearray(len(data))
        assert body.readinto(buffer) == len(data)
        assert body.digests() == (
            hashlib.md5(data, usedforsecurity=False).hexdigest(),
            part_checksum("sha256", [data]),
        )

    def test_a_body_not_read_whole_proves_nothing(self) -> None:
        """Half read, or read past a skip: no digest to compare with the store's answer."""
        data = os.urandom(MiB)
        body = HashedBody(io.BytesIO(data), len(data), "crc32")
        body.readinto(bytearray(1000))
        assert body.digests() is None
        body.seek(5000)
        body.readinto(bytearray(len(data)))
        assert body.digests() is None
