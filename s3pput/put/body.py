"""A body sent in one request: bytes proven to be the file's, and the store's answer checked.

The native client could read a file by its path itself, but then nobody knows
which bytes went out: a file rewritten during the upload was recorded with
the MD5 of another version, and a path swapped for a fifo blocked the
client's only I/O thread in ``open``. So a file sent in one request is opened
here without blocking (O_NONBLOCK), checked to be a regular file on its
descriptor, read between two ``fstat`` calls that must agree (and agree with
the ``stat`` that decided to send it), and the native client gets the bytes
(or, above ``IN_MEMORY_LIMIT``, a stream of that descriptor that hashes what
the client really reads). The MD5 of those bytes is what the record, the
checksum cache and the ``s3pput-md5`` metadata say; it goes out as
Content-MD5, so every store checks it. The answer is checked too: a
single-part ETag that is an MD5 must be this one, and a checksum the store
echoes must be the one of these bytes.

This module knows bytes, descriptors and the store's answer; it does not
know records, options or why a file is sent.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from s3pput.errors import ChangedWhileUploadingError, NotRegularFileError, StoredOtherBytesError
from s3pput.put.local_files import check_regular
from s3pput.transport.checksums import part_checksum
from s3pput.transport.put_response import PutResponse

__all__ = [
    "CHANGED",
    "IN_MEMORY_LIMIT",
    "HashingReader",
    "Snapshot",
    "check_stored",
    "etag_is_md5",
    "integrity_headers",
    "open_checked",
    "read_snapshot",
    "same_version",
]

IN_MEMORY_LIMIT: Final = 16 * 1024 * 1024
"""A body sent in one request is held in memory up to this; above (a raised
--multipart-threshold), the client reads a checked stream of the descriptor."""
_MD5_HEX: Final = re.compile(r"^[0-9a-f]{32}$")
_KMS_OR_CUSTOMER_KEY: Final = ("aws:kms", "aws:kms:dsse")

Fstat = Callable[[int], os.stat_result]
CHANGED: Final = "changed while uploading"
"""The error of a record whose file changed after put looked at it, while it was read or sent."""


def open_checked(path: str, fstat: Fstat = os.fstat) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading without ever blocking; (descriptor, its fstat) of a regular file.

    O_NONBLOCK makes ``open`` of a fifo with no writer return at once, and
    the fstat of the descriptor (not of the path, which may have been swapped
    since) refuses it.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except ValueError as exc:  # a NUL byte in a path made by hand
        raise NotRegularFileError(f"cannot open path: {exc}") from None
    try:
        return fd, check_regular(fstat(fd), path)
    except BaseException:
        os.close(fd)
        raise


def version_of(result: os.stat_result) -> tuple[int, int, int, int, int]:
    """What changes whenever a file's bytes can have changed (the checksum cache's key too)."""
    return (result.st_dev, result.st_ino, result.st_size, result.st_mtime_ns, result.st_ctime_ns)


def same_version(before: os.stat_result, after: os.stat_result) -> bool:
    """Whether two stats are of the same version of the same file."""
    return version_of(before) == version_of(after)


def _changed(path: str) -> ChangedWhileUploadingError:
    return ChangedWhileUploadingError(f"{CHANGED}: {path}")


@dataclass(frozen=True)
class Snapshot:
    """A file's bytes, read between two equal fstats, and their MD5 (hex)."""

    data: bytes
    identity: os.stat_result
    md5: str


def read_snapshot(
    path: str, expected: os.stat_result | None = None, *, fstat: Fstat = os.fstat
) -> Snapshot:
    """Read a whole regular file; raise ChangedWhileUploadingError unless it held still.

    ``expected`` is the ``stat`` the caller decided on (size, skip, cache):
    the descriptor must be that version, before and after the read, and
    exactly its size must be read. ``fstat`` is injectable so tests can
    change the file between the two looks without sleeping.
    """
    fd, before = open_checked(path, fstat)
    try:
        if expected is not None and not same_version(expected, before):
            raise _changed(path)
        chunks = []
        left = before.st_size + 1  # one byte more tells a file that grew
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        after = fstat(fd)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) != before.st_size or not same_version(before, after):
        raise _changed(path)
    return Snapshot(data, before, hashlib.md5(data, usedforsecurity=False).hexdigest())


class HashingReader(io.RawIOBase):
    """A descriptor's bytes from offset 0 as the native client reads them, hashed on the way.

    Rewound (``seek(0)``) for each attempt, which starts the hash again, so
    after the request ``md5()`` is the MD5 of what the last attempt sent.
    """

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._offset = 0
        self._digest = hashlib.md5(usedforsecurity=False)

    def readable(self) -> bool:
        """Yes: it is read."""
        return True

    def seekable(self) -> bool:
        """Yes, but only back to the start (each attempt)."""
        return True

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Rewind to the start for another attempt; the hash starts again."""
        if offset != 0 or whence != os.SEEK_SET:
            raise io.UnsupportedOperation("only a rewind to the start")
        self._offset = 0
        self._digest = hashlib.md5(usedforsecurity=False)
        return 0

    def tell(self) -> int:
        """Bytes read since the last rewind."""
        return self._offset

    def readinto(self, buffer: Any) -> int:  # noqa: ANN401  # a writable buffer of any kind
        """Read the next bytes at our own offset (pread: the descriptor's offset is not used)."""
        data = os.pread(self._fd, len(buffer), self._offset)
        buffer[: len(data)] = data
        self._offset += len(data)
        self._digest.update(data)
        return len(data)

    def md5(self) -> str:
        """The hex MD5 of the bytes read since the last rewind."""
        return self._digest.hexdigest()


def integrity_headers(md5_hex: str, checksum_algorithm: str) -> dict[str, str]:
    """Headers that let the store check a body: Content-MD5, and the checksum's name as SDKs say it.

    The ``x-amz-checksum-*`` value itself is computed by the native client.
    """
    return {
        "Content-MD5": base64.b64encode(bytes.fromhex(md5_hex)).decode("ascii"),
        "x-amz-sdk-checksum-algorithm": checksum_algorithm.upper(),
    }


def etag_is_md5(parameters: Mapping[str, Any], response: PutResponse) -> bool:
    """Whether a single-part ETag must be the body's MD5: not with SSE-KMS or SSE-C."""
    asked = str(parameters.get("ServerSideEncryption", "")).lower()
    if asked in _KMS_OR_CUSTOMER_KEY or parameters.get("SSECustomerAlgorithm"):
        return False
    return (response.encryption or "").lower() not in {*_KMS_OR_CUSTOMER_KEY, "sse-c"}


def check_stored(
    response: PutResponse,
    *,
    md5: str,
    data: bytes | None,
    checksum_algorithm: str,
    etag_md5: bool,
) -> None:
    """Raise StoredOtherBytesError if the answer says the store holds other bytes.

    A plain single-part ETag is the MD5 of what the store holds (``etag_md5``
    False for SSE-KMS/SSE-C, where it is not); a checksum the store echoes
    must be the one of ``data`` (when the bytes are at hand).
    """
    etag = response.etag.strip('"').lower()
    if etag_md5 and _MD5_HEX.match(etag) and etag != md5:
        raise StoredOtherBytesError(
            f"PutObject: the store holds other bytes than were sent (ETag {etag}, sent MD5 {md5})"
        )
    if data is not None and response.checksum is not None:
        ours = part_checksum(checksum_algorithm, [data])
        if response.checksum != ours:
            raise StoredOtherBytesError(
                f"PutObject: the store's {checksum_algorithm} {response.checksum} "
                f"is not the sent bytes' {ours}"
            )
