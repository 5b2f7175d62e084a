"""Multipart uploads that can be resumed: s3pput's own, parts sent by the native client.

The CRT can split a file into parts itself, but it never says the upload id,
and it aborts the upload when cancelled. So a large file would start from
nothing after Ctrl-C. Here s3pput creates the upload, sends each part as one
native request (its checksum computed by the CRT and checked by S3) and
completes it; an interrupted record carries ``upload_id`` and ``part_size``,
and replaying it sends only the parts that are not on the server yet. Parts
already there are checked against the local bytes before they are kept.

Parts in flight are bounded across every upload of the run (``PartSlots``):
the native client holds each part's body in memory while it sends it.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import unescape
from typing import TYPE_CHECKING, Final
from xml.sax.saxutils import escape

from s3pput import log, retry
from s3pput.crt import Handle, PutResponse, S3RequestError, part_checksum
from s3pput.unchanged import MAX_PARTS

if TYPE_CHECKING:
    from s3pput.crt import CrtPutter

__all__ = [
    "PART_MEMORY",
    "MultipartSender",
    "Part",
    "PartSlots",
    "PartSource",
    "UploadState",
    "choose_part_size",
    "complete_body",
    "part_ranges",
]

MiB: Final = 1024 * 1024
MIN_PART: Final = 5 * MiB
"""S3's smallest part (all but the last)."""
MAX_PART: Final = 5 * 1024 * MiB
PART_MEMORY: Final = 64 * MiB
"""Bytes of parts in flight across the run: the native client buffers each part it sends."""
MAX_SLOTS: Final = 8
"""Parts in flight at most, whatever their size. A 1 GiB file reached the local
server's ceiling (~180 MB/s here) with 8 parts of 8 MiB in flight."""
WAIT_STEP: Final = 1.0

_log = log.get_logger("put")


def choose_part_size(size: int, requested: int) -> int:
    """The part size for ``size`` bytes: the requested one, grown so the parts fit in 10,000.

    A 5 TiB file with 8 MiB asked gets 525 MiB parts (whole MiB), S3's limits respected.
    """
    part_size = max(requested, MIN_PART)
    if -(-size // part_size) > MAX_PARTS:
        needed = -(-size // MAX_PARTS)
        part_size = -(-needed // MiB) * MiB
    return min(part_size, MAX_PART)


def part_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, offset, length) of every part; an empty body is one empty part."""
    if size == 0:
        return [(1, 0, 0)]
    return [
        (number, offset, min(part_size, size - offset))
        for number, offset in enumerate(range(0, size, part_size), start=1)
    ]


@dataclass(frozen=True)
class Part:
    """One part on the server, as a completion lists it."""

    number: int
    etag: str
    checksum: str | None = None
    size: int | None = None


def complete_body(parts: list[Part], algorithm: str) -> bytes:
    """The CompleteMultipartUpload XML: every part's number, ETag and checksum."""
    tag = f"Checksum{algorithm.upper()}"
    items = []
    for part in sorted(parts, key=lambda p: p.number):
        checksum = f"<{tag}>{escape(part.checksum)}</{tag}>" if part.checksum else ""
        items.append(
            f"<Part><PartNumber>{part.number}</PartNumber>"
            f"<ETag>&quot;{escape(part.etag)}&quot;</ETag>{checksum}</Part>"
        )
    return f"<CompleteMultipartUpload>{''.join(items)}</CompleteMultipartUpload>".encode()


def _text(xml: bytes, tag: str) -> str | None:
    found = re.search(rf"<{tag}>([^<]*)</{tag}>".encode(), xml)
    return unescape(found.group(1).decode()) if found else None


def _listed_parts(xml: bytes, algorithm: str) -> Iterator[Part]:
    tag = f"Checksum{algorithm.upper()}"
    for item in re.findall(rb"<Part>(.*?)</Part>", xml, flags=re.DOTALL):
        yield Part(
            number=int(_text(item, "PartNumber") or 0),
            etag=(_text(item, "ETag") or "").strip('"'),
            checksum=_text(item, tag),
            size=int(_text(item, "Size") or -1),
        )


class PartSource:
    """Bytes of one upload, read with ``pread`` from an open file: a whole file or a window.

    A window (``base``) is how a member of an uncompressed tar is sent
    without extracting it. Parts read the file at their own offsets, so any
    number of them can be in flight at once.
    """

    def __init__(self, fd: int, size: int, base: int = 0) -> None:
        self.fd = fd
        self.size = size
        self.base = base

    def window(self, offset: int, length: int) -> _Window:
        """A file object over ``length`` bytes from ``offset``: a part's body."""
        return _Window(self.fd, self.base + offset, length)

    def chunks(self, offset: int, length: int) -> Iterator[bytes]:
        """The bytes of one part, a MiB at a time (to check a part already sent)."""
        done = 0
        while done < length:
            data = os.pread(self.fd, min(MiB, length - done), self.base + offset + done)
            if not data:
                raise OSError(f"file shrank while it was read (at byte {offset + done})")
            done += len(data)
            yield data


class _Window(io.RawIOBase):
    """``length`` bytes of a file from ``start``; seekable, since the CRT rewinds to retry."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        super().__init__()
        self._fd = fd
        self._start = start
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._length - self._position)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._start + self._position)
        if not data:
            raise OSError("file shrank while it was sent")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position


class PartSlots:
    """Parts in flight across all uploads of a run, bounded by count and by bytes."""

    def __init__(self, memory: int = PART_MEMORY, most: int = MAX_SLOTS) -> None:
        self._memory = memory
        self._most = most
        self._used = 0
        self._bytes = 0
        self._changed = threading.Condition()

    def take(self, size: int, stop: threading.Event) -> bool:
        """Wait for room for a part of ``size`` bytes; False if ``stop`` was set meanwhile.

        One part always fits when nothing is in flight, whatever its size.
        """
        with self._changed:
            while self._used and (self._used >= self._most or self._bytes + size > self._memory):
                if stop.is_set():
                    return False
                self._changed.wait(WAIT_STEP)
            if stop.is_set():
                return False
            self._used += 1
            self._bytes += size
            return True

    def give(self, size: int) -> None:
        """Hand back a part's room."""
        with self._changed:
            self._used -= 1
            self._bytes -= size
            self._changed.notify_all()


@dataclass
class UploadState:
    """An upload in progress, as an interrupted record should carry it."""

    upload_id: str
    part_size: int
    sent: int = 0
    """Bytes sent by this run (parts found on the server are not counted)."""


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

    def __init__(self, putter: CrtPutter, bucket: str, slots: PartSlots | None = None) -> None:
        self.putter = putter
        self.bucket = bucket
        self.slots = slots or PartSlots()
        self.active: dict[str, UploadState] = {}
        """Uploads under way, by key: what an interrupted record carries."""
        self._lock = threading.Lock()

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

        Raises S3RequestError or OSError; the upload is then aborted, unless
        the run is being stopped (the record then carries its id to resume).
        """
        state, done = self._resumed(key, source, *resume)
        if state is None:
            state = UploadState(self._create(key, headers), part_size)
        with self._lock:
            self.active[key] = state
        try:
            parts = self._send_parts(key, source, state, done)
            response = self._complete(key, state.upload_id, parts)
        except BaseException as exc:
            if not retry.interrupted(exc):  # an interrupted one is resumed by its record
                self.abort(key, state.upload_id)
            raise
        finally:
            with self._lock:
                self.active.pop(key, None)
        return response, state

    def resumable(self, key: str) -> UploadState | None:
        """The upload under way for ``key``, if any (for the record of an interrupted run)."""
        with self._lock:
            return self.active.get(key)

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
            headers=[*headers, algorithm],
        )
        upload_id = _text(body, "UploadId")
        if not upload_id:
            raise S3RequestError("CreateMultipartUpload: no UploadId in the answer")
        return upload_id

    def _resumed(
        self, key: str, source: PartSource, upload_id: str | None, part_size: int | None
    ) -> tuple[UploadState | None, dict[int, Part]]:
        """The upload to resume and its parts that hold the local bytes; (None, {}) to start afresh.

        A part is kept when its size and its checksum (or MD5) match the
        local bytes at its place, so a file edited since is not patched
        with stale parts. An upload that is gone (completed, aborted,
        expired) or whose part size is unknown is started again.
        """
        if upload_id is None:
            return None, {}
        if part_size is None or part_size < MIN_PART or -(-source.size // part_size) > MAX_PARTS:
            _log.info("cannot resume with this part size", key=key, part_size=part_size)
            self.abort(key, upload_id)
            return None, {}
        try:
            listed = list(self._list_parts(key, upload_id))
        except S3RequestError as exc:
            if exc.code != "NoSuchUpload":
                raise
            _log.info("upload to resume is gone, starting again", key=key, upload_id=upload_id)
            return None, {}
        state = UploadState(upload_id, part_size)
        expected = {n: (o, length) for n, o, length in part_ranges(source.size, part_size)}
        kept: dict[int, Part] = {}
        for part in listed:
            where = expected.get(part.number)
            if where is None or part.size != where[1]:
                continue
            verified = self._verified(source, where, part)
            if verified is not None:
                kept[part.number] = verified
        _log.info("resuming upload", key=key, parts_on_server=len(listed), kept=len(kept))
        return state, kept

    def _verified(self, source: PartSource, where: tuple[int, int], part: Part) -> Part | None:
        """The part as the completion should list it, if it holds the local bytes; else None.

        Its listed checksum decides, else (stores that list none) its ETag as
        an MD5; one read of the local bytes gives both, and the local
        checksum then goes into the completion.
        """
        offset, length = where
        md5 = hashlib.md5(usedforsecurity=False)

        def chunks() -> Iterator[bytes]:
            for chunk in source.chunks(offset, length):
                md5.update(chunk)
                yield chunk

        local = part_checksum(self.putter.checksum, chunks())
        same = local == part.checksum if part.checksum else part.etag.lower() == md5.hexdigest()
        return Part(part.number, part.etag, local, part.size) if same else None

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
            yield from _listed_parts(body, self.putter.checksum)
            marker = _text(body, "NextPartNumberMarker") or ""
            if _text(body, "IsTruncated") != "true" or not marker:
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

        def finished(response: PutResponse | None, error: BaseException | None) -> None:
            self.slots.give(length)
            with flight.changed:
                flight.pending.pop(number, None)
                attempts = response.attempts if response is not None else 1
                if isinstance(error, S3RequestError):
                    attempts = error.attempts
                flight.retries += max(0, attempts - 1)
                if response is not None:
                    flight.done[number] = Part(number, response.etag, response.checksum, length)
                elif flight.failure is None:
                    flight.failure = error or S3RequestError("UploadPart: no answer")
                    flight.stop.set()
                flight.changed.notify_all()

        with flight.changed:
            flight.pending[number] = None  # until started
        pending = self.putter.put_part_async(
            self.bucket,
            key,
            query={"partNumber": str(number), **query},
            body=lambda: source.window(offset, length),
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
        etag = (_text(body, "ETag") or "").strip('"')
        checksum = _text(body, f"Checksum{self.putter.checksum.upper()}")
        return PutResponse(etag, checksum)
