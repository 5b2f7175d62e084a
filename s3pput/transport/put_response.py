"""What the store said about a stored object: the answer every upload ends with.

Apart from native.py so that the stages can build and read answers without
loading the CRT (``--help``, a usage error, a dry run); native.py re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PutResponse"]


@dataclass(frozen=True)
class PutResponse:
    """What S3 said about a stored object."""

    etag: str
    checksum: str | None = None
    """The object's additional checksum (base64) as S3 computed it, when S3 says (single part)."""
    attempts: int = 1
    """Attempts it took (more than one when retried)."""
    encryption: str | None = None
    """How the store encrypted it, as it says (``aws:kms``, ``sse-c``...): with SSE-KMS
    or SSE-C a single-part ETag is not the body's MD5."""
