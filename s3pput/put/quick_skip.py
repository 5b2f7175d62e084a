"""Skips decided without reading a file: from the listing's size (and date), or the cached MD5.

The driver thread asks these for every record that meets an existing key, so
they must stay cheap: no file is read and no request is sent here. They must
not know how a file is sent; a None answer leaves the decision to the
operation itself.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from s3pput.put.etags import split_etag
from s3pput.put.gzip_upload import GZIP_MD5

if TYPE_CHECKING:
    from s3pput.put.options import PutOptions
    from s3pput.put.target import Target
    from s3pput.records import Record

__all__ = ["compares_metadata", "unchanged_by_cache"]


def compares_metadata(options: PutOptions, typed: tuple[str | None, bool] | None) -> bool:
    """Whether ``update`` decides from size (and date) alone.

    That is --compare size or size-mtime, for a body sent as it is: a
    gzipped object's size is not the file's, so gzip compares checksums.
    """
    return (
        options.mode == "update"
        and options.compare != "checksum"
        and typed is not None
        and not typed[1]
    )


def unchanged_by_cache(
    target: Target,
    record: Record,
    identity: os.stat_result,
    typed: tuple[str | None, bool] | None,
    head: dict[str, Any],
) -> Record | None:
    """Skip a file without reading it, when its cached MD5 is the object's single-part ETag.

    Returns None whenever that cannot be decided this cheaply (no cache,
    not ``update``, a type libmagic must see, a multipart ETag); the
    normal path then decides.
    """
    if target.cache is None or target.options.mode != "update" or typed is None:
        return None
    content_type, compress = typed
    etag, parts = split_etag(str(head.get("ETag", "")))
    if parts or (not compress and head.get("ContentLength") != identity.st_size):
        return None
    sent_md5 = target.cache.get(identity, GZIP_MD5 if compress else "md5")
    if sent_md5 is None or etag != sent_md5:
        return None
    return record.evolve(
        size=record.size if record.size is not None else identity.st_size,
        status="skipped",
        reason="unchanged",
        bytes=0,
        md5=None if compress else sent_md5,
        content_type=content_type,
        content_encoding="gzip" if compress else target.options.parameters.get("ContentEncoding"),
    )
