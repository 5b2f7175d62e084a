"""The end every upload shares: skip it, plan it or send it, then say what the store holds.

An operation (a plain file, a gzip body, a tar member) knows how to make its
body, how to test an existing object and how to send; it describes that in an
``Upload`` and calls ``finish_upload``, which applies ``--put add|update`` and
``--dry-run``, builds the headers, remembers the key in the bucket index and
writes the ``uploaded`` record with the store's checksum. ``send_file`` and
``part_size_of`` are the shared way to send in parts (resumable). It must not
know how a body is made (read, compressed, cut from an archive) or which
operation a record takes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from s3pput.put.etags import split_etag
from s3pput.put.parts import choose_part_size
from s3pput.put.unchanged import PART_SIZE_METADATA

if TYPE_CHECKING:
    from s3pput.put.target import LocalFile, Target
    from s3pput.records import Record
    from s3pput.transport.put_response import PutResponse

__all__ = [
    "Headers",
    "Stored",
    "UnchangedTest",
    "Upload",
    "checksum_fields",
    "finish_upload",
    "part_size_of",
    "send_file",
    "skip_reason",
    "uploaded",
]

UnchangedTest: TypeAlias = Callable[[Mapping[str, Any]], bool]
"""``update``'s question to an existing object (a HEAD or a listing's entry): same bytes?"""
Headers: TypeAlias = Callable[[Mapping[str, str]], list[tuple[str, str]]]
"""The request headers of the body, given the metadata the operation adds to them."""


class Stored(NamedTuple):
    """What one upload left in the store, as its record says it."""

    response: PutResponse
    sent: int
    """Bytes sent by this run (a resumed upload sends only the parts still missing)."""
    size: int
    """The object's size, remembered in the bucket index."""
    md5: str | None
    """The MD5 the record says: of the source's bytes, never the store's ETag."""


@dataclass(frozen=True)
class Upload:
    """One operation's answers to what the tail asks, in the order it asks."""

    content_type: str | None
    encoding: str | None
    unchanged: UnchangedTest
    known_md5: Callable[[], str | None]
    """The source MD5 a skipped or planned record says, if known without reading more."""
    planned_bytes: int
    """The bytes a dry run says it would send."""
    send: Callable[[Headers], Stored]
    """Send the body; called only when nothing says to skip it and it is not a dry run."""
    planned_md5: bool = True
    """False: the planned record says no MD5 (a large file gzipped on the way never did)."""


def finish_upload(target: Target, record: Record, key: str, upload: Upload) -> Record:
    """The record of one upload: skipped, planned, or sent and remembered."""
    reason = skip_reason(target, key, upload.unchanged)
    result = record.evolve(content_type=upload.content_type, content_encoding=upload.encoding)
    if reason is not None:
        return result.evolve(status="skipped", reason=reason, bytes=0, md5=upload.known_md5())
    if target.options.dry_run:
        md5 = upload.known_md5() if upload.planned_md5 else None
        return result.evolve(status="planned", bytes=upload.planned_bytes, md5=md5)
    headers = partial(target.destination.headers, upload.content_type, upload.encoding)
    return uploaded(target, result, key, upload.send(headers))


def uploaded(target: Target, result: Record, key: str, stored: Stored) -> Record:
    """The ``uploaded`` record; the key is remembered in the index as holding these bytes."""
    target.index.remember(key, stored.response.etag, stored.size)
    return result.evolve(
        status="uploaded",
        bytes=stored.sent,
        md5=stored.md5,
        etag=stored.response.etag or None,
        **checksum_fields(target, stored.response),
    )


def skip_reason(
    target: Target, key: str, unchanged: UnchangedTest, *, read_metadata: bool = True
) -> str | None:
    """Apply --put add/update: why to skip this key, or None to upload it.

    With ``read_metadata``, an object the listing shows with a multipart
    ETag is asked for (HEAD) its metadata, which says how to compare it.
    """
    if target.options.mode not in {"add", "update"}:
        return None
    head = target.index.lookup(key)
    if head is None:
        return None
    if target.options.mode == "add":
        return "exists"
    if read_metadata and "Metadata" not in head and split_etag(str(head.get("ETag", "")))[1]:
        head = target.destination.head(key)  # a multipart ETag: our metadata says how to check it
        if head is None:
            return None
    return "unchanged" if unchanged(head) else None


def checksum_fields(target: Target, response: PutResponse) -> dict[str, str | None]:
    """The record's checksum fields: S3's own value of the checksum it checked, if it says."""
    if response.checksum is None:
        return {}
    return {"checksum_algorithm": target.destination.putter.checksum, "checksum": response.checksum}


def part_size_of(target: Target, record: Record, size: int) -> int:
    """The part size of a body sent in parts: a resumed upload's own, else ``--part-size``.

    Raised as needed to keep within S3's 10,000 parts.
    """
    return choose_part_size(size, record.part_size or target.options.part_size)


def send_file(
    target: Target,
    file: LocalFile,
    headers: Headers,
    metadata: Mapping[str, str],
    *,
    spool: tuple[str, int] | None = None,
) -> tuple[PutResponse, int]:
    """Send a local file, or the ``spool`` (path, size) of a body made of it; (answer, bytes sent).

    Above the multipart threshold in parts, resuming the upload a replayed
    record names; the part size joins ``metadata`` either way, so ``update``
    can recompute a multipart ETag. The file must still be the version its
    ``identity`` says (a spool of our own is not checked).
    """
    if spool is None:
        path, size, identity = file.path, file.identity.st_size, file.identity
    else:
        (path, size), identity = spool, None
    record = file.record
    part_size = part_size_of(target, record, size)
    return target.destination.send_file(
        file.key,
        path,
        headers({**metadata, PART_SIZE_METADATA: str(part_size)}),
        size,
        part_size=part_size,
        resume=(record.upload_id, record.part_size),
        identity=identity,
    )
