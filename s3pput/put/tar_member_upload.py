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
instead of uploading the wrong bytes.
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from s3pput import log
from s3pput.errors import MemberError
from s3pput.put.content_type import gzip_bytes, should_gzip
from s3pput.put.etags import ETagDigest
from s3pput.put.parts import PartSource, choose_part_size
from s3pput.put.unchanged import (
    MD5_METADATA,
    PART_SIZE_METADATA,
    open_regular,
    unchanged_test,
)
from s3pput.units import MiB

if TYPE_CHECKING:
    from s3pput.put.uploader import Uploader
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


def put_member(uploader: Uploader, record: Record, key: str) -> Record:
    """Upload one tar member; raise for a member that cannot be read (the caller reports it)."""
    if record.path is None or record.offset is None or record.size is None:
        raise MemberError(
            "a tar member record needs path, offset and size (s3pput-walk --walk tar)"
        )
    archive = uploader.archives.get(record.path)
    size, offset = record.size, record.offset
    _check_header(archive, record, offset, size)
    content_type = uploader.options.parameters.get("ContentType") or uploader.typer.content_type(
        str(record.member)
    )
    if content_type is None and uploader.typer.needs_head:
        content_type = uploader.typer.content_type(
            str(record.member), archive.read(offset, min(size, 4096))
        )
    compress = uploader.options.gzip and should_gzip(content_type, uploader.options.gzip_types)
    small = size <= uploader.options.multipart_threshold
    if compress and not small:
        raise MemberError("--gzip of a tar member above --multipart-threshold is not supported yet")
    data = archive.read(offset, size) if small else None
    digest = _Digest(archive.source(offset, size), data)
    version = MemberVersion(size, record.mtime or 0.0)

    def gzipped_unchanged(head: Mapping[str, Any]) -> bool:
        stored = (head.get("Metadata") or {}).get(MD5_METADATA)
        return bool(stored) and stored == digest.md5()

    unchanged = (
        gzipped_unchanged
        if compress
        else unchanged_test(
            version, digest, compare=uploader.options.compare, part_size=uploader.options.part_size
        )
    )

    encoding = "gzip" if compress else uploader.options.parameters.get("ContentEncoding")
    result = record.evolve(content_type=content_type, content_encoding=encoding)
    reason = uploader.skip_reason(key, unchanged)
    if reason is not None:
        return result.evolve(status="skipped", reason=reason, bytes=0, md5=digest.known)
    if uploader.options.dry_run:
        return result.evolve(status="planned", bytes=size, md5=digest.known)
    metadata = {MD5_METADATA: digest.md5()} if data is not None else {}
    if data is not None:
        body = gzip_bytes(data) if compress else data
        headers = uploader.destination.headers(content_type, encoding, metadata)
        body_md5 = (
            hashlib.md5(body, usedforsecurity=False).hexdigest() if compress else digest.md5()
        )
        response = uploader.destination.send_body(key, body, body_md5, headers)
        sent = len(body)
    else:
        part_size = choose_part_size(size, record.part_size or uploader.options.part_size)
        metadata[PART_SIZE_METADATA] = str(part_size)
        headers = uploader.destination.headers(content_type, encoding, metadata)
        response, state = uploader.destination.parts.upload(
            key,
            archive.source(offset, size),
            headers,
            part_size,
            resume=(record.upload_id, record.part_size),
        )
        sent = state.sent
    uploader.index.remember(key, response.etag, sent)
    return result.evolve(
        status="uploaded",
        bytes=sent,
        md5=digest.known,
        etag=response.etag or None,
        **uploader.checksum_fields(response),
    )


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
