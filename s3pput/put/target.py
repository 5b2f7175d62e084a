"""What an upload operation works with: the options, the bucket, its index, the checksum cache.

Each operation (a plain file, a gzip body, a tar member, a copy) takes this
narrow, frozen Target instead of the whole uploader, so it sees only the
collaborators it uses and imports nothing that routes records; an operation
on a local file also takes the LocalFile the uploader found. It must not
know the driver, threads, or which operation a record takes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from s3pput.put.bucket_index import DirectoryIndex
    from s3pput.put.checksum_cache import ChecksumCache
    from s3pput.put.destination import Destination
    from s3pput.put.options import PutOptions
    from s3pput.records import Record

__all__ = ["STAGE", "LocalFile", "Target"]

STAGE: Final = "put"
"""The ``stage`` of the records put fails."""


@dataclass(frozen=True)
class Target:
    """The bucket an operation sends to, what is known of it, and how to send."""

    options: PutOptions
    destination: Destination
    """The requests: HEAD, PUT in one request or in parts, COPY."""
    cache: ChecksumCache | None = None
    """Local MD5s by file version, so an unchanged file is read at most once."""

    @property
    def index(self) -> DirectoryIndex:
        """What the bucket holds, from listings; an upload remembers its key here."""
        return self.destination.index


@dataclass(frozen=True)
class LocalFile:
    """A local file on its way up, as the uploader found it."""

    record: Record
    key: str
    path: str
    identity: os.stat_result
    """The ``stat`` that decided to send it: the bytes sent must be this version."""
    content_type: str | None
