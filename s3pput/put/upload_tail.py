"""The end every upload shares: skip it or send it, then say what the store holds.

An operation (a plain file, a gzip body, a tar member) knows how to make its
body and test an existing object; this module applies ``--put add|update``,
and turns the store's answer into the record's checksum fields. It must not
know where a body comes from (file, archive, compressor) or which operation
a record takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from s3pput.put.etags import split_etag

if TYPE_CHECKING:
    from s3pput.put.target import Target
    from s3pput.transport.native import PutResponse

__all__ = ["checksum_fields", "skip_reason"]


def skip_reason(
    target: Target, key: str, unchanged: Callable[[dict[str, Any]], bool]
) -> str | None:
    """Apply --put add/update: why to skip this key, or None to upload it."""
    if target.options.mode not in {"add", "update"}:
        return None
    head = target.index.lookup(key)
    if head is None:
        return None
    if target.options.mode == "add":
        return "exists"
    if "Metadata" not in head and split_etag(str(head.get("ETag", "")))[1]:
        head = target.destination.head(key)  # a multipart ETag: our metadata says how to check it
        if head is None:
            return None
    return "unchanged" if unchanged(head) else None


def checksum_fields(target: Target, response: PutResponse) -> dict[str, str | None]:
    """The record's checksum fields: S3's own value of the checksum it checked, if it says."""
    if response.checksum is None:
        return {}
    return {"checksum_algorithm": target.destination.putter.checksum, "checksum": response.checksum}
