"""Uploads with ``--gzip``: the body is compressed on the way, so it is not the file.

A small file is read (body.py), compressed in memory and sent in one PUT with
the Content-MD5 of the compressed bytes; a large one is compressed chunk by
chunk into a temporary file sent in parts.
Compression is reproducible (no timestamp), and the source MD5 is stored in
metadata, so ``update`` can still tell an unchanged file.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from typing import IO, TYPE_CHECKING, Any

from s3pput.errors import ChangedWhileUploadingError
from s3pput.put.body import CHANGED, read_snapshot, same_version
from s3pput.put.content_type import gzip_bytes
from s3pput.put.etags import ETagDigest
from s3pput.put.parts import choose_part_size
from s3pput.put.unchanged import (
    MD5_METADATA,
    PART_SIZE_METADATA,
    READ_CHUNK,
    LocalDigests,
    open_regular,
    recorded_part_sizes,
    same_content,
)

if TYPE_CHECKING:
    from s3pput.put.uploader import Uploader
    from s3pput.records import Record

__all__ = ["GZIP_MD5", "gzip_stream", "put_large", "put_small"]

GZIP_MD5 = "gzip-md5"
"""Cache kind: MD5 of a file's reproducible gzip body (what its ETag is with --gzip)."""


def put_small(  # noqa: PLR0913  # one upload's facts
    uploader: Uploader,
    record: Record,
    key: str,
    path: str,
    content_type: str | None,
    *,
    identity: os.stat_result | None = None,
) -> Record:
    """Compress a file in memory and send it in one PUT checked by Content-MD5.

    The bytes compressed are the bytes read between two equal fstats (and
    equal to ``identity``, the stat that decided to send the file).
    """
    snapshot = read_snapshot(path, identity)
    identity = snapshot.identity
    data = snapshot.data
    body = gzip_bytes(data)
    source_md5 = ETagDigest()
    source_md5.update(data)
    sent = ETagDigest()
    sent.update(body)
    if uploader.cache is not None:
        uploader.cache.put(identity, "md5", source_md5.md5())
        uploader.cache.put(identity, GZIP_MD5, sent.md5())

    def multipart_etags(part_sizes: list[int]) -> dict[int, str]:
        digest = ETagDigest(part_sizes)
        digest.update(body)
        return {p: digest.multipart_etag(p) for p in part_sizes}

    def unchanged(head: dict[str, Any]) -> bool:
        stored = (head.get("Metadata") or {}).get(MD5_METADATA)
        if stored:
            return bool(stored == source_md5.md5())
        return same_content(
            head,
            size=len(body),
            md5=sent.md5,
            multipart_etags=multipart_etags,
            preferred_part_sizes=recorded_part_sizes(head, uploader.options.part_size),
        )

    reason = uploader.skip_reason(key, unchanged)
    result = record.evolve(
        md5=source_md5.md5(),
        bytes=len(body),
        content_type=content_type,
        content_encoding="gzip",
    )
    if reason is not None:
        return result.evolve(status="skipped", reason=reason, bytes=0)
    if uploader.options.dry_run:
        return result.evolve(status="planned")
    headers = uploader.destination.headers(content_type, "gzip", {MD5_METADATA: source_md5.md5()})
    response = uploader.destination.send_body(key, body, sent.md5(), headers)
    uploader.index.remember(key, response.etag, len(body))
    return result.evolve(
        status="uploaded", etag=response.etag or None, **uploader.checksum_fields(response)
    )


def put_large(  # noqa: PLR0913  # one upload's facts, passed along
    uploader: Uploader,
    *,
    record: Record,
    key: str,
    path: str,
    identity: os.stat_result,
    content_type: str | None,
) -> Record:
    """Compress a large file to a temporary file, chunk by chunk, and send that in parts.

    Its ETag is of the compressed bytes, so only the source MD5 we store
    in metadata can say it is unchanged.
    """
    local = LocalDigests(path, identity, uploader.cache)

    def unchanged(head: dict[str, Any]) -> bool:
        stored = (head.get("Metadata") or {}).get(MD5_METADATA)
        return bool(stored) and stored == local.md5()

    reason = uploader.skip_reason(key, unchanged)
    result = record.evolve(content_type=content_type, content_encoding="gzip")
    if reason is not None:
        return result.evolve(status="skipped", reason=reason, bytes=0, md5=local.known_md5())
    if uploader.options.dry_run:
        return result.evolve(status="planned", bytes=identity.st_size)
    with (
        open_regular(path) as source,
        tempfile.NamedTemporaryFile(prefix="s3pput-gzip-") as spool,
    ):
        digest = gzip_stream(source, spool)
        if not same_version(identity, os.fstat(source.fileno())):
            raise ChangedWhileUploadingError(
                CHANGED
            )  # what was compressed may be a mix of two versions
        spool.flush()
        sent = spool.tell()
        part_size = choose_part_size(sent, record.part_size or uploader.options.part_size)
        metadata = {MD5_METADATA: digest.md5(), PART_SIZE_METADATA: str(part_size)}
        headers = uploader.destination.headers(content_type, "gzip", metadata)
        # Compression is reproducible, so a replayed record can resume the upload.
        response, _ = uploader.destination.send_file(
            key,
            spool.name,
            headers,
            sent,
            part_size=part_size,
            resume=(record.upload_id, record.part_size),
        )
    uploader.index.remember(key, response.etag, sent)
    return result.evolve(
        status="uploaded",
        bytes=sent,
        md5=digest.md5(),
        etag=response.etag or None,
        **uploader.checksum_fields(response),
    )


def gzip_stream(source: IO[bytes], target: IO[bytes]) -> ETagDigest:
    """Compress a file into ``target`` chunk by chunk, never whole in memory; hash it on the way."""
    digest = ETagDigest()
    with gzip.GzipFile(fileobj=target, mode="wb", compresslevel=6, mtime=0) as zipped:
        while chunk := source.read(READ_CHUNK):
            digest.update(chunk)
            zipped.write(chunk)
    return digest
