"""S3's additional checksums (``--checksum``), computed here as the stores compute them.

The native client computes the checksum of what it sends itself; s3pput needs
the same value for bytes it holds (a part already on the server, to check it
before resuming; a part as it is read to be sent). Pure functions of bytes,
with the CRT's own CRCs: no request, no record.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from typing import Final

from awscrt import checksums

__all__ = ["CHECKSUMS", "DEFAULT_CHECKSUM", "RunningChecksum", "part_checksum"]

CHECKSUMS: Final = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
"""S3's additional checksums. Each is sent as a header, computed by the CRT before the body
(per part for a multipart upload), and S3 checks it before it stores anything. Not as a
trailer: that needs "Content-Encoding: aws-chunked", which SeaweedFS then stores on the object."""
DEFAULT_CHECKSUM: Final = "crc32"


def part_checksum(algorithm: str, chunks: Iterable[bytes]) -> str:
    """The base64 ``--checksum`` of some bytes, as S3 lists it for a part."""
    running = RunningChecksum(algorithm)
    for chunk in chunks:
        running.update(chunk)
    return running.value()


class RunningChecksum:
    """A ``--checksum`` fed a chunk at a time, as a part's body is read to be sent."""

    def __init__(self, algorithm: str) -> None:
        self._hash = hashlib.new(algorithm) if algorithm in {"sha1", "sha256"} else None
        crc: tuple[Callable[[bytes, int], int] | None, int] = _CRCS.get(algorithm, (None, 0))
        self._crc, self._width = crc
        self._value = 0

    def update(self, chunk: bytes | memoryview) -> None:
        """Add the next bytes."""
        if self._hash is not None:
            self._hash.update(chunk)
        elif self._crc is not None:
            self._value = self._crc(chunk, self._value)  # type: ignore[arg-type]  # buffers do

    def value(self) -> str:
        """The checksum (base64) of everything added so far."""
        if self._hash is not None:
            return base64.b64encode(self._hash.digest()).decode("ascii")
        return base64.b64encode(self._value.to_bytes(self._width, "big")).decode("ascii")


_CRCS: Final[dict[str, tuple[Callable[[bytes, int], int], int]]] = {
    "crc32": (checksums.crc32, 4),
    "crc32c": (checksums.crc32c, 4),
    "crc64nvme": (checksums.crc64nvme, 8),
}
