"""Walking an S3 prefix: one record per object, for a server-side copy by put.

``s3pput-walk s3://BUCKET/PREFIX --prefix P | s3pput-put --bucket B`` copies
every object under PREFIX to B, under P, without the bytes leaving S3. Each
record names its source in ``source_bucket`` and ``source_key``, which put
copies from under any ``--put`` mode, and its ETag in ``source_etag``, which
``--put update`` compares with the destination's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from s3pput import keys
from s3pput.records import Record

if TYPE_CHECKING:
    from s3pput.transport.clients import S3Client

__all__ = ["S3_SCHEME", "iter_objects", "split_url"]

S3_SCHEME = "s3://"


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    bucket, _, prefix = url.removeprefix(S3_SCHEME).partition("/")
    return bucket, prefix


def iter_objects(
    client: S3Client,
    url: str,
    prefix: str = "",
    keep: Callable[[str], bool] | None = None,
) -> Iterator[Record]:
    """Yield a record per object under ``url``, keyed ``prefix`` + its path below the URL.

    ``s3://b/dir`` and ``s3://b/dir/`` both mean the objects under ``dir/``;
    if there are none and ``dir`` is an object itself, that one object is
    the source, keyed by its last part (as a file SRC is by its basename).
    Keys ending in "/" (folder markers) are skipped, and so is a path below
    the URL (or that last part) that ``keep`` refuses (--exclude/--include).
    """
    bucket, source = split_url(url)
    below = source if not source or source.endswith("/") else f"{source}/"
    found = False
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=below):
        for item in page.get("Contents", []):
            source_key = item["Key"]
            if source_key.endswith("/"):
                continue
            found = True
            rel = source_key[len(below) :]
            if keep is None or keep(rel):
                yield _record(bucket, source_key, keys.join_key(prefix, rel.split("/")), item)
    if not found and source and not source.endswith("/"):
        page = client.list_objects_v2(Bucket=bucket, Prefix=source, MaxKeys=1)
        for item in page.get("Contents", []):
            name = source.split("/")[-1]
            if item["Key"] == source and (keep is None or keep(name)):
                yield _record(bucket, source, keys.join_key(prefix, [name]), item)


def _record(bucket: str, source_key: str, key: str, item: Mapping[str, Any]) -> Record:
    from datetime import datetime  # noqa: PLC0415  # loaded by boto3 already; a local walk never needs it

    modified = item.get("LastModified")
    return Record(
        key=key,
        size=int(item.get("Size", 0)),
        mtime=modified.timestamp() if isinstance(modified, datetime) else None,
        extra={
            "source_bucket": bucket,
            "source_key": source_key,
            **({"source_etag": etag} if (etag := str(item.get("ETag", "")).strip('"')) else {}),
        },
    )
