"""Uploading a member of a tar archive: its bytes read from the archive, never extracted.

A record from ``s3pput-walk --walk tar`` names the archive (``path``), the
member and the offset of its bytes. A plain archive is read at that offset
directly, by any number of uploads at once, and a large member goes up in
parts like a file (resumable too). A compressed archive can only be read
front to back: one reader per archive moves forward as the records come
(they come in archive order), keeps the last few MiB it read for records a
little out of order, and starts again from the top only for one that is far
behind. Before a member is sent, the tar header just before its bytes must
agree on its size, so a record that no longer matches its archive fails
instead of uploading the wrong bytes. The end of the upload (skip, plan,
remember, the record) is upload_tail's; this module must not know how a
record was routed here.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from s3pput import log
from s3pput.errors import MemberError
from s3pput.put.content_type import gzip_bytes
from s3pput.put.etags import ETagDigest
from s3pput.put.local_files import open_regular
from s3pput.put.parts import PartSource
from s3pput.put.unchanged import (
    MD5_METADATA,
    PART_SIZE_METADATA,
    same_kept_md5,
    unchanged_test,
)
from s3pput.put.upload_tail import (
    Headers,
    Stored,
    UnchangedTest,
    Upload,
    finish_upload,
    part_size_of,
)
from s3pput.units import MiB

if TYPE_CHECKING:
    from s3pput.put.content_type import ContentTyper
    from s3pput.put.target import Target
    from s3pput.records import Record

__all__ = ["Archives", "put_member"]

BLOCK: Final = tarfile.BLOCKSIZE
KEEP: Final = 16 * MiB
MAX_OFFSET: Final = (1 << 63) - 1
"""No file is larger: os.pread refuses an offset beyond it (OverflowError)."""
"""Bytes a compressed archive's reader keeps behind it, for records a little out of order."""
_OPENERS: Final[dict[bytes, Callable[[str], io.BufferedIOBase]]] = {
    b"\x1f\x8b": gzip.GzipFile,
    b"BZh": bz2.BZ2File,
    b"\xfd7zXZ\x00": lzma.LZMAFile,
}

_log = log.get_logger("put")


@dataclass(frozen=True)
class MemberVersion:
    """A member's size and date, for ``--compare size|size-mtime``."""

    st_size: int
    st_mtime: float


class _Plain:
    """An uncompressed archive: read anywhere, by anyone, at once."""

    def __init__(self, path: str) -> None:
        self._file = open_regular(path)
        self.fd = self._file.fileno()
        self.identity = os.fstat(self.fd)
        """The archive as first opened: a member in parts fails if it changes meanwhile."""

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise MemberError(f"archive ends before byte {offset + length}")
        return data

    def source(self, offset: int, size: int) -> PartSource:
        return PartSource(self.fd, size, base=offset, expected=self.identity)

    def close(self) -> None:
        self._file.close()


class _Compressed:
    """A compressed archive: one reader moving forward, the last KEEP bytes kept."""

    def __init__(self, path: str, opener: Callable[[str], io.BufferedIOBase]) -> None:
        self._path = path
        self._opener = opener
        self._lock = threading.Lock()
        self._stream = opener(path)
        self._kept = bytearray()
        self._kept_from = 0

    def read(self, offset: int, length: int) -> bytes:
        with self._lock:
            if offset < self._kept_from:
                self._restart()
            end = offset + length
            while self._kept_from + len(self._kept) < end:
                chunk = self._stream.read(min(MiB, end - self._kept_from - len(self._kept)))
                if not chunk:
                    raise MemberError(f"archive ends before byte {end}")
                self._kept += chunk
            start = offset - self._kept_from
            data = bytes(self._kept[start : start + length])
            drop = len(self._kept) - max(KEEP, len(self._kept) - start)
            if drop > 0:
                del self._kept[:drop]
                self._kept_from += drop
            return data

    def _restart(self) -> None:
        """Read again from the top: a record far behind the reader (a replay, say)."""
        _log.info("reading compressed archive again from the start", archive=self._path)
        self._stream.close()
        self._stream = self._opener(self._path)
        self._kept = bytearray()
        self._kept_from = 0

    def source(self, offset: int, size: int) -> PartSource:
        return _StreamSource(self, offset, size)

    def close(self) -> None:
        self._stream.close()


class _StreamSource(PartSource):
    """A member of a compressed archive as parts: each part read when it is sent."""

    def __init__(self, archive: _Compressed, offset: int, size: int) -> None:
        super().__init__(-1, size, base=offset)
        self._archive = archive

    def window(self, offset: int, length: int) -> io.BytesIO:
        return io.BytesIO(self._archive.read(self.base + offset, length))

    def chunks(self, offset: int, length: int) -> Iterator[bytes]:
        for start in range(0, length, MiB):
            yield self._archive.read(self.base + offset + start, min(MiB, length - start))


class Archives:
    """The archives one put reads members from: each opened once, shared by every upload."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, _Plain | _Compressed] = {}

    def get(self, path: str) -> _Plain | _Compressed:
        """The archive at ``path``, opened at its first use."""
        with self._lock:
            archive = self._open.get(path)
            if archive is None:
                archive = self._open[path] = _open(path)
            return archive

    def close(self) -> None:
        """Close every archive."""
        with self._lock:
            for archive in self._open.values():
                archive.close()
            self._open.clear()


def _open(path: str) -> _Plain | _Compressed:
    with open_regular(path) as probe:
        magic = probe.read(6)
    for start, opener in _OPENERS.items():
        if magic.startswith(start):
            return _Compressed(path, opener)
    return _Plain(path)


def _check_header(archive: _Plain | _Compressed, record: Record, offset: int, size: int) -> None:
    """Refuse a record whose offset does not follow a tar header of a member of its size.

    The header right before the bytes is the member's own (or, for a hard
    link, its target's); a long name may be cut in it, so the size decides.
    """
    if offset < BLOCK or offset % BLOCK or offset + size > MAX_OFFSET:
        raise MemberError(f"offset {offset} is not where a tar member's bytes can start")
    try:
        header = tarfile.TarInfo.frombuf(archive.read(offset - BLOCK, BLOCK), "utf-8", "replace")
    except tarfile.HeaderError as exc:
        raise MemberError(f"no tar header before offset {offset}: {exc}") from None
    if header.size != size:
        raise MemberError(
            f"archive changed: member {record.member!r} has {header.size} bytes, not {size}"
        )


def put_member(
    target: Target, record: Record, key: str, archives: Archives, typer: ContentTyper
) -> Record:
    """Upload one tar member; raise for a member that cannot be read (the caller reports it)."""
    if record.path is None or record.offset is None or record.size is None:
        raise MemberError(
            "a tar member record needs path, offset and size (s3pput-walk --walk tar)"
        )
    archive = archives.get(record.path)
    size, offset = record.size, record.offset
    _check_header(archive, record, offset, size)
    content_type = typer.resolve(
        str(record.member), lambda count: archive.read(offset, min(size, count))
    )
    compress = typer.compress(content_type)
    small = size <= target.options.multipart_threshold
    if compress and not small:
        raise MemberError("--gzip of a tar member above --multipart-threshold is not supported yet")
    data = archive.read(offset, size) if small else None
    digest = _Digest(archive.source(offset, size), data)
    version = MemberVersion(size, record.mtime or 0.0)

    unchanged: UnchangedTest = (
        (lambda head: bool(same_kept_md5(head, digest.md5)))  # the ETag is of the gzip body
        if compress
        else unchanged_test(
            version, digest, compare=target.options.compare, part_size=target.options.part_size
        )
    )

    def send(headers: Headers) -> Stored:
        if data is not None:
            metadata = {MD5_METADATA: digest.md5()}
            body = gzip_bytes(data) if compress else data
            body_md5 = (
                hashlib.md5(body, usedforsecurity=False).hexdigest() if compress else digest.md5()
            )
            response = target.destination.send_body(key, body, body_md5, headers(metadata))
            return Stored(response, len(body), len(body), digest.known)
        part_size = part_size_of(target, record, size)
        response, state = target.destination.parts.upload(
            key,
            archive.source(offset, size),
            headers({PART_SIZE_METADATA: str(part_size)}),
            part_size,
            resume=(record.upload_id, record.part_size),
        )
        return Stored(response, state.sent, state.sent, digest.known)

    upload = Upload(
        content_type=content_type,
        encoding="gzip" if compress else target.options.parameters.get("ContentEncoding"),
        unchanged=unchanged,
        known_md5=lambda: digest.known,
        planned_bytes=size,
        send=send,
    )
    return finish_upload(target, record, key, upload)


class _Digest:
    """A member's MD5 and multipart ETags, read from the archive at most once."""

    def __init__(self, source: PartSource, data: bytes | None) -> None:
        self._source = source
        self._data = data
        self.known: str | None = None
        self._etags: dict[int, str] = {}

    def md5(self) -> str:
        if self.known is None:
            self._read([])
        assert self.known is not None  # noqa: S101  # set by _read
        return self.known

    def multipart_etags(self, part_sizes: list[int]) -> dict[int, str]:
        if any(p not in self._etags for p in part_sizes):
            self._read(part_sizes)
        return {p: self._etags[p] for p in part_sizes}

    def _read(self, part_sizes: list[int]) -> None:
        digest = ETagDigest(part_sizes)
        for chunk in (
            [self._data] if self._data is not None else self._source.chunks(0, self._source.size)
        ):
            digest.update(chunk)
        self.known = digest.md5()
        self._etags.update((p, digest.multipart_etag(p)) for p in part_sizes)
