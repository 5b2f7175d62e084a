"""SSE-C: the headers that carry a customer's own encryption key with each object request.

With ``--sse-c`` S3 encrypts each object with a key the user keeps; every
request that writes or reads the object's bytes or metadata must carry the
key again (PutObject, CreateMultipartUpload, each UploadPart, HeadObject,
GetObject, the destination of a copy). Listings and aborts need none. The
key is a secret: it lives only in these headers, never in a repr, a record
or a log line.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Final

__all__ = ["KEYED_OPERATIONS", "KEY_BYTES", "CustomerKey"]

KEY_BYTES: Final = 32
"""AES256, the one algorithm S3 takes for SSE-C, needs a 256-bit key."""
KEYED_OPERATIONS: Final = frozenset(
    {
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "HeadObject",
        "GetObject",
        "CopyObject",
        "UploadPartCopy",
    }
)
"""Requests about one object's bytes: these carry the key; a listing or an abort does not."""
_PREFIX: Final = "x-amz-server-side-encryption-customer-"


@dataclass(frozen=True)
class CustomerKey:
    """An SSE-C key (never shown in a repr) and the algorithm it is for."""

    key: bytes = field(repr=False)
    algorithm: str = "AES256"

    def headers(self) -> tuple[tuple[str, str], ...]:
        """The three headers S3 wants: the algorithm, the key and its MD5, both base64."""
        digest = hashlib.md5(self.key, usedforsecurity=False).digest()
        return (
            (f"{_PREFIX}algorithm", self.algorithm),
            (f"{_PREFIX}key", base64.b64encode(self.key).decode()),
            (f"{_PREFIX}key-MD5", base64.b64encode(digest).decode()),
        )
