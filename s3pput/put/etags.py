"""What an object's ETag should be, computed locally in one pass over the bytes.

A single-part ETag is the MD5 of the body. A multipart ETag is the MD5 of the
parts' MD5s plus ``-N``, so it depends on the part size the uploader chose:
we try the part sizes common tools use, all in the same pass.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import Any, Final

from s3pput.units import MiB

__all__ = ["COMMON_PART_SIZES", "ETagDigest", "b64_md5", "candidate_part_sizes", "split_etag"]

COMMON_PART_SIZES: Final = (5 * MiB, 8 * MiB, 15 * MiB, 16 * MiB, 64 * MiB, 100 * MiB, 128 * MiB)
"""Defaults of aws-cli/boto3 (8), s5cmd (50 at times), rclone (5), s3cmd (15) and friends."""


def b64_md5(hex_digest: str) -> str:
    """Turn a hex MD5 into the base64 form the Content-MD5 header wants."""
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def split_etag(etag: str) -> tuple[str, int]:
    """Return ``(digest, parts)`` of an ETag; parts is 0 for a single-part upload."""
    digest, dash, parts = etag.strip('"').partition("-")
    return digest.lower(), int(parts) if dash and parts.isdigit() else 0


def candidate_part_sizes(size: int, parts: int, preferred: Iterable[int] = ()) -> list[int]:
    """Part sizes that would split ``size`` bytes into exactly ``parts`` parts."""
    found: list[int] = []
    for part_size in (*preferred, *COMMON_PART_SIZES):
        if part_size > 0 and -(-size // part_size) == parts and part_size not in found:
            found.append(part_size)
    return found


class ETagDigest:
    """Feed bytes once; get the whole MD5 and the multipart ETag for each part size."""

    def __init__(self, part_sizes: Iterable[int] = ()) -> None:
        self.whole = hashlib.md5(usedforsecurity=False)
        self.size = 0
        self._done: dict[int, list[bytes]] = {p: [] for p in part_sizes}
        self._current: dict[int, tuple[Any, int]] = {
            p: (hashlib.md5(usedforsecurity=False), 0) for p in self._done
        }

    def update(self, data: bytes) -> None:
        """Add the next bytes of the body."""
        self.whole.update(data)
        self.size += len(data)
        view = memoryview(data)
        for part_size in self._current:
            self._current[part_size] = self._feed_part(part_size, view)

    def _feed_part(self, part_size: int, view: memoryview) -> tuple[Any, int]:
        digest, filled = self._current[part_size]
        offset = 0
        while offset < len(view):
            take = min(part_size - filled, len(view) - offset)
            digest.update(view[offset : offset + take])
            filled += take
            offset += take
            if filled == part_size:
                self._done[part_size].append(digest.digest())
                digest, filled = hashlib.md5(usedforsecurity=False), 0
        return digest, filled

    def md5(self) -> str:
        """The hex MD5 of everything fed: the ETag of a single-part upload."""
        return self.whole.hexdigest()

    def multipart_etag(self, part_size: int) -> str:
        """The ETag S3 gives a multipart upload of these bytes with this part size."""
        digest, filled = self._current[part_size]
        parts = list(self._done[part_size])
        if filled or not parts:
            parts.append(digest.digest())
        combined = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest()
        return f"{combined}-{len(parts)}"
