"""What an upload operation works with: the options, the bucket, its index, the checksum cache.

Each operation (a plain file, a gzip body, a tar member, a copy) takes this
narrow, frozen bundle instead of the whole uploader, so it sees only the
collaborators it uses and imports nothing that routes records. It must not
know the driver, threads, or which operation a record takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from s3pput.put.bucket_index import DirectoryIndex
    from s3pput.put.checksum_cache import ChecksumCache
    from s3pput.put.destination import Destination
    from s3pput.put.options import PutOptions

__all__ = ["STAGE", "Target"]

STAGE: Final = "put"
"""The ``stage`` of the records put fails."""


@dataclass(frozen=True)
class Target:
    """The bucket an operation sends to, what is known of it, and how to send."""

    options: PutOptions
    destination: Destination
    """The requests: HEAD, PUT in one request or in parts, COPY."""
    index: DirectoryIndex
    """What the bucket holds, from listings; an upload remembers its key here."""
    cache: ChecksumCache | None = None
    """Local MD5s by file version, so an unchanged file is read at most once."""
