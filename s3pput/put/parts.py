"""Multipart uploads that can be resumed: s3pput's own, parts sent by the native client.

The CRT can split a file into parts itself, but it never says the upload id,
and it aborts the upload when cancelled. So a large file would start from
nothing after Ctrl-C. Here s3pput creates the upload, sends each part as one
native request (its checksum computed by the CRT and checked by S3) and
completes it; an interrupted record carries ``upload_id`` and ``part_size``,
and replaying it sends only the parts that are not on the server yet. Parts
already there are checked against the local bytes before they are kept.

What the store says of each part is held against the bytes sent (its echoed
checksum, else its ETag as their MD5: part_checks.py), since a store that
checks no checksum header stores a damaged body and answers 200; and the
file must stay the version put looked at (part_source.py). Either failing
aborts the upload.
After a stop, the interrupted record and the thread that uploads agree on the
upload's fate (handover.py): the record carries the id of an upload left on
the server, never that of one aborted or about to be completed.

Parts in flight are bounded across every upload of the run (part_slots.py):
the native client holds each part's body in memory while it sends it. The
plan of the parts (sizes, ranges, the XML) is part_plan.py's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from s3pput import log
from s3pput.errors import ChangedWhileUploadingError, S3RequestError
from s3pput.put.body import CHANGED
from s3pput.put.handover import Tracked, Uploads, UploadState
from s3pput.put.part_checks import stored_part_problem, verified_part
from s3pput.put.part_plan import (
    Part,
    choose_part_size,
    complete_body,
    listed_parts,
    part_ranges,
    xml_text,
)
from s3pput.put.part_slots import WAIT_STEP, PartSlots
from s3pput.put.part_source import HashedBody, PartSource
from s3pput.transport import retry
from s3pput.transport.dispatch import Handle
from s3pput.transport.put_response import PutResponse
from s3pput.units import MAX_PARTS, MIN_PART

if TYPE_CHECKING:
    from s3pput.transport.native import NativePutter

__all__ = [
    "MultipartSender",
    "Part",
    "PartSource",
    "UploadState",
    "choose_part_size",
    "complete_body",
    "part_ranges",
]

_NO_LIST_PARTS: Final = frozenset({"MethodNotAllowed", "NotImplemented", "405", "501"})
"""ListParts refused as unknown (s3rver): such a store cannot resume an upload."""

_log = log.get_logger("put")


@dataclass
class _Flight:
    """The parts of one upload in flight, filled in by the native client's callbacks."""

    done: dict[int, Part] = field(default_factory=dict)
    pending: dict[int, Handle | None] = field(default_factory=dict)
    """Parts started, by number (None until put_part_async has returned its handle)."""
    retries: int = 0
    """Attempts of parts beyond their first, for the record's count."""
    failure: BaseException | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)
    stop: threading.Event = field(default_factory=threading.Event)


class MultipartSender:
    """Create, resume, send and complete multipart uploads to one bucket."""

    def __init__(self, putter: NativePutter, bucket: str, slots: PartSlots | None = None) -> None:
        self.putter = putter
        self.bucket = bucket
        self.slots = slots or PartSlots()
        self.uploads = Uploads()
        """Uploads under way, by key: what an interrupted record carries."""

    def upload(  # one upload's facts
        self,
        key: str,
        source: PartSource,
        headers: list[tuple[str, str]],
        part_size: int,
        *,
        resume: tuple[str | None, int | None] = (None, None),
    ) -> tuple[PutResponse, UploadState]:
        """Send ``source`` to ``key`` in parts; resume ``resume`` (upload id, part size) if it can.

        Raises S3RequestError or OSError (ChangedWhileUploadingError when the file is
        not the version ``source`` expects, before, during or after); the
        upload is then aborted, unless the run is being stopped and the
        record of the interrupted run carries its id to resume.
        """
        tracked = self.uploads.start(key, resume[0])
        state: UploadState | None = None
        try:
            source.check_unchanged()  # the MD5 put read before is of this version
            state, done = self._resumed(key, source, tracked, *resume)
            if state is None:
                self.uploads.enter(tracked, "creating")
                state = UploadState(self._create(key, headers), part_size)
            self.uploads.sending(tracked, state)
            parts = self._send_parts(key, source, state, done)
            source.check_unchanged()
            self.uploads.enter(tracked, "completing")
            response = self._complete(key, state.upload_id, parts)
        except BaseException as exc:
            if self.uploads.failed(key, tracked, exc) and state is not None:
                self.abort(key, state.upload_id)
            raise
        self.uploads.finished(key, tracked)
        return response, state

    def hand_over(self, key: str) -> tuple[str | None, int | None] | None:
        """What the interrupted record of ``key`` must say: (upload id, part size); see Uploads."""
        return self.uploads.hand_over(key)

    def abort(self, key: str, upload_id: str) -> None:
        """Abort an upload so its parts do not linger (and cost); a failure here is only logged."""
        try:
            self.putter.request(
                "AbortMultipartUpload", "DELETE", self.bucket, key, query={"uploadId": upload_id}
            )
        except S3RequestError as exc:
            _log.warning("could not abort upload", key=key, upload_id=upload_id, error=str(exc))

    def _create(self, key: str, headers: list[tuple[str, str]]) -> str:
        algorithm = ("x-amz-checksum-algorithm", self.putter.checksum.upper())
        _, body = self.putter.request(
            "CreateMultipartUpload",
            "POST",
            self.bucket,
            key,
            query={"uploads": ""},
            headers=[*headers, algorithm, self.putter.sdk_checksum_header],
        )
        upload_id = xml_text(body, "UploadId")
        if not upload_id:
            raise S3RequestError("CreateMultipartUpload: no UploadId in the answer")
        return upload_id

    def _resumed(
        self,
        key: str,
        source: PartSource,
        tracked: Tracked,
        upload_id: str | None,
        part_size: int | None,
    ) -> tuple[UploadState | None, dict[int, Part]]:
        """The upload to resume and its parts that hold the local bytes; (None, {}) to start afresh.

        A part is kept when its size and its checksum (or MD5) match the
        local bytes at its place, so a file edited since is not patched
        with stale parts. An upload that is gone (completed, aborted,
        expired), whose part size is unknown, or whose parts the store
        cannot list (no ListParts) is started again.
        """
        if upload_id is None:
            return None, {}
        if part_size is None or part_size < MIN_PART or -(-source.size // part_size) > MAX_PARTS:
            _log.info("cannot resume with this part size", key=key, part_size=part_size)
            self._drop(key, upload_id, tracked, abort=True)
            return None, {}
        try:
            listed = list(self._list_parts(key, upload_id))
        except S3RequestError as exc:
            if exc.code in _NO_LIST_PARTS:
                _log.info("the store cannot list parts, starting again", key=key, error=str(exc))
                self._drop(key, upload_id, tracked, abort=True)
                return None, {}
            if exc.code != "NoSuchUpload":
                raise
            _log.info("upload to resume is gone, starting again", key=key, upload_id=upload_id)
            self._drop(key, upload_id, tracked, abort=False)
            return None, {}
        expected = {n: (o, length) for n, o, length in part_ranges(source.size, part_size)}
        kept: dict[int, Part] = {}
        for part in listed:
            where = expected.get(part.number)
            if where is None or part.size != where[1]:
                continue
            verified = verified_part(source, where, part, self.putter.checksum)
            if verified is not None:
                kept[part.number] = verified
        _log.info("resuming upload", key=key, parts_on_server=len(listed), kept=len(kept))
        return UploadState(upload_id, part_size), kept

    def _drop(self, key: str, upload_id: str, tracked: Tracked, *, abort: bool) -> None:
        """The record's upload will not be resumed: it must not be replayed; abort it if asked."""
        self.uploads.dropped(tracked)
        if abort:
            self.abort(key, upload_id)

    def _list_parts(self, key: str, upload_id: str) -> Iterator[Part]:
        marker = "0"
        while True:
            _, body = self.putter.request(
                "ListParts",
                "GET",
                self.bucket,
                key,
                query={"uploadId": upload_id, "part-number-marker": marker},
            )
            yield from listed_parts(body, self.putter.checksum)
            marker = xml_text(body, "NextPartNumberMarker") or ""
            if xml_text(body, "IsTruncated") != "true" or not marker:
                return

    def _send_parts(
        self, key: str, source: PartSource, state: UploadState, done: dict[int, Part]
    ) -> list[Part]:
        """Send every part not in ``done``, a bounded number at a time; all parts, in order."""
        flight = _Flight(done=dict(done))
        query = {"uploadId": state.upload_id}
        try:
            for number, offset, length in part_ranges(source.size, state.part_size):
                if number in done:
                    continue
                if not self.slots.take(length, flight.stop):
                    break
                self._start_part(key, source, flight, (number, offset, length), query)
                state.sent += length
            self._wait(flight)
        finally:
            flight.stop.set()
            self._cancel_all(flight)
            retry.note(flight.retries + 1)
        if flight.failure is not None:
            raise flight.failure
        return [flight.done[n] for n in sorted(flight.done)]

    def _start_part(
        self,
        key: str,
        source: PartSource,
        flight: _Flight,
        part: tuple[int, int, int],
        query: dict[str, str],
    ) -> None:
        number, offset, length = part
        sent: list[HashedBody] = []
        """The body of the latest attempt: what the store's answer is about."""

        def body() -> HashedBody:
            sent[:] = [HashedBody(source.window(offset, length), length, self.putter.checksum)]
            return sent[0]

        def finished(response: PutResponse | None, error: BaseException | None) -> None:
            self.slots.give(length)
            if response is not None:
                body_sent = sent[0] if sent else None
                error = stored_part_problem(
                    source, number, body_sent, response, self.putter.checksum
                )
            with flight.changed:
                flight.pending.pop(number, None)
                attempts = response.attempts if response is not None else 1
                if isinstance(error, S3RequestError):
                    attempts = error.attempts
                flight.retries += max(0, attempts - 1)
                if response is not None and error is None:
                    flight.done[number] = Part(number, response.etag, response.checksum, length)
                elif flight.failure is None:
                    if source.changed():  # the reason a part's body could not be read whole
                        error = ChangedWhileUploadingError(CHANGED)
                    flight.failure = error or S3RequestError("UploadPart: no answer")
                    flight.stop.set()
                flight.changed.notify_all()

        with flight.changed:
            flight.pending[number] = None  # until started
        pending = self.putter.put_part_async(
            self.bucket,
            key,
            query={"partNumber": str(number), **query},
            body=body,
            size=length,
            on_finished=finished,
        )
        with flight.changed:
            if number in flight.pending:
                flight.pending[number] = pending

    def _wait(self, flight: _Flight) -> None:
        """Wait for the parts in flight, cancelling any past its deadline."""
        with flight.changed:
            while flight.pending:
                flight.changed.wait(WAIT_STEP)
                now = time.monotonic()
                for pending in list(flight.pending.values()):
                    if pending is not None and now > pending.deadline:
                        pending.cancel()

    def _cancel_all(self, flight: _Flight) -> None:
        with flight.changed:
            for pending in list(flight.pending.values()):
                if pending is not None:
                    pending.cancel()
            while flight.pending:
                flight.changed.wait(WAIT_STEP)

    def _complete(self, key: str, upload_id: str, parts: list[Part]) -> PutResponse:
        _, body = self.putter.request(
            "CompleteMultipartUpload",
            "POST",
            self.bucket,
            key,
            query={"uploadId": upload_id},
            headers=[("Content-Type", "application/xml")],
            body=complete_body(parts, self.putter.checksum),
        )
        etag = (xml_text(body, "ETag") or "").strip('"')
        checksum = xml_text(body, f"Checksum{self.putter.checksum.upper()}")
        return PutResponse(etag, checksum)
