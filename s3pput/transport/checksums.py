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

from s3pput.transport.settings import CHECKSUMS, DEFAULT_CHECKSUM

__all__ = ["CHECKSUMS", "DEFAULT_CHECKSUM", "RunningChecksum", "part_checksum"]

_CRC_WIDTHS: Final = {"crc32": 4, "crc32c": 4, "crc64nvme": 8}
"""The CRCs the CRT computes, and their width in bytes."""


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
        self._crc = _crc_function(algorithm) if algorithm in _CRC_WIDTHS else None
        self._width = _CRC_WIDTHS.get(algorithm, 0)
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


def _crc_function(algorithm: str) -> Callable[[bytes, int], int]:
    """The CRT's CRC function; awscrt is imported here, at the first part that needs it.

    Loading the CRT costs about 50 ms, which ``--help``, walk and stat must not pay.
    """
    from awscrt import checksums  # noqa: PLC0415  # see the docstring

    crc: Callable[[bytes, int], int] = getattr(checksums, algorithm)
    return crc
