"""Uploads with ``--gzip``: the body is compressed on the way, so it is not the file.

A small file is read (body.py), compressed in memory and sent in one PUT with
the Content-MD5 of the compressed bytes; a large one is compressed chunk by
chunk into a temporary file sent in parts.
Compression is reproducible (no timestamp), and the source MD5 is stored in
metadata, so ``update`` can still tell an unchanged file. The end of the
upload (skip, plan, remember, the record) is upload_tail's; this module must
not know how a record was routed here.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from s3pput.errors import ChangedWhileUploadingError
from s3pput.put.body import CHANGED, read_snapshot, same_version
from s3pput.put.content_type import gzip_bytes
from s3pput.put.etags import ETagDigest
from s3pput.put.local_files import open_regular
from s3pput.put.unchanged import (
    MD5_METADATA,
    READ_CHUNK,
    LocalDigests,
    recorded_part_sizes,
    same_content,
    same_kept_md5,
)
from s3pput.put.upload_tail import Headers, Stored, Upload, finish_upload, send_file

if TYPE_CHECKING:
    from s3pput.put.target import LocalFile, Target
    from s3pput.records import Record

__all__ = ["GZIP_MD5", "gzip_stream", "put_large", "put_small"]

GZIP_MD5 = "gzip-md5"
"""Cache kind: MD5 of a file's reproducible gzip body (what its ETag is with --gzip)."""


def put_small(target: Target, file: LocalFile) -> Record:
    """Compress a file in memory and send it in one PUT checked by Content-MD5.

    The bytes compressed are the bytes read between two equal fstats (and
    equal to the file's ``identity``, the stat that decided to send it).
    """
    snapshot = read_snapshot(file.path, file.identity)
    data = snapshot.data
    body = gzip_bytes(data)
    source_md5 = ETagDigest()
    source_md5.update(data)
    sent = ETagDigest()
    sent.update(body)
    if target.cache is not None:
        target.cache.put(snapshot.identity, "md5", source_md5.md5())
        target.cache.put(snapshot.identity, GZIP_MD5, sent.md5())

    def multipart_etags(part_sizes: list[int]) -> dict[int, str]:
        digest = ETagDigest(part_sizes)
        digest.update(body)
        return {p: digest.multipart_etag(p) for p in part_sizes}

    def unchanged(head: Mapping[str, Any]) -> bool:
        kept = same_kept_md5(head, source_md5.md5)
        if kept is not None:
            return kept
        return same_content(
            head,
            size=len(body),
            md5=sent.md5,
            multipart_etags=multipart_etags,
            preferred_part_sizes=recorded_part_sizes(head, target.options.part_size),
        )

    def send(headers: Headers) -> Stored:
        metadata = {MD5_METADATA: source_md5.md5()}
        response = target.destination.send_body(file.key, body, sent.md5(), headers(metadata))
        return Stored(response, len(body), len(body), source_md5.md5())

    upload = Upload(
        content_type=file.content_type,
        encoding="gzip",
        unchanged=unchanged,
        known_md5=source_md5.md5,
        planned_bytes=len(body),
        send=send,
    )
    return finish_upload(target, file.record, file.key, upload)


def put_large(target: Target, file: LocalFile) -> Record:
    """Compress a large file to a temporary file, chunk by chunk, and send that in parts.

    Its ETag is of the compressed bytes, so only the source MD5 we store
    in metadata can say it is unchanged.
    """
    local = LocalDigests(file.path, file.identity, target.cache)

    def unchanged(head: Mapping[str, Any]) -> bool:  # the ETag is of the compressed bytes
        return bool(same_kept_md5(head, local.md5))

    def send(headers: Headers) -> Stored:
        with (
            open_regular(file.path) as source,
            tempfile.NamedTemporaryFile(prefix="s3pput-gzip-") as spool,
        ):
            digest = gzip_stream(source, spool)
            if not same_version(file.identity, os.fstat(source.fileno())):
                # What was compressed may be a mix of two versions.
                raise ChangedWhileUploadingError(CHANGED)
            spool.flush()
            sent = spool.tell()
            # Compression is reproducible, so a replayed record can resume the upload.
            metadata = {MD5_METADATA: digest.md5()}
            response, _ = send_file(target, file, headers, metadata, spool=(spool.name, sent))
        return Stored(response, sent, sent, digest.md5())

    upload = Upload(
        content_type=file.content_type,
        encoding="gzip",
        unchanged=unchanged,
        known_md5=local.known_md5,
        planned_bytes=file.identity.st_size,
        send=send,
        planned_md5=False,
    )
    return finish_upload(target, file.record, file.key, upload)


def gzip_stream(source: IO[bytes], target: IO[bytes]) -> ETagDigest:
    """Compress a file into ``target`` chunk by chunk, never whole in memory; hash it on the way."""
    digest = ETagDigest()
    with gzip.GzipFile(fileobj=target, mode="wb", compresslevel=6, mtime=0) as zipped:
        while chunk := source.read(READ_CHUNK):
            digest.update(chunk)
            zipped.write(chunk)
    return digest
