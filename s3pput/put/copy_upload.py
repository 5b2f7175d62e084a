"""Records whose bytes are in S3: copied server-side, by the rules of the ``--put`` mode.

The operation beside plain, gzip and tar-member uploads: it decides skip,
plan or copy for one record, and leaves the requests to server_copy.py. It
must not know how a record's key was chosen or checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from s3pput.put import server_copy
from s3pput.put.upload_tail import skip_reason

if TYPE_CHECKING:
    from s3pput.put.target import Target
    from s3pput.records import Record

__all__ = ["put_copy"]


def put_copy(target: Target, record: Record, source: server_copy.Source) -> Record:
    """Server-side copy of ``source`` to the record's key, by the rules of the ``--put`` mode.

    ``update`` skips a key that holds the source's size and ETag, ``add``
    any existing key; ``stupid`` and ``copy`` always copy. The caller has
    checked the key.
    """
    key = str(record.key)
    reason = _copy_skip_reason(target, key, source, record.size)
    if reason is not None:
        return record.evolve(status="skipped", reason=reason, bytes=0)
    if target.options.dry_run:
        return record.evolve(status="planned", bytes=0)
    etag = server_copy.copy(
        target.destination.client,
        source={"Bucket": source.bucket, "Key": source.key},
        bucket=target.options.bucket,
        key=key,
        parameters=target.options.parameters,
        size=record.size,
        threshold=target.options.copy_threshold,
    )
    return record.evolve(status="uploaded", bytes=0, etag=etag)


def _copy_skip_reason(
    target: Target, key: str, source: server_copy.Source, size: int | None
) -> str | None:
    """Why not to copy (``exists``, ``unchanged``), or None; asks S3 only what it must."""

    def unchanged(existing: Mapping[str, Any]) -> bool:
        if source.etag is not None and size is not None:
            known = {"ETag": source.etag, "ContentLength": size}
        else:
            client = target.destination.client
            known = dict(client.head_object(Bucket=source.bucket, Key=source.key))
        return server_copy.same_object(known, existing)

    return skip_reason(target, key, unchanged, read_metadata=False)
