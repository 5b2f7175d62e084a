"""Server-side copies: one CopyObject, or parts for objects S3 will not copy whole.

A record whose bytes are in S3 names them in ``source_bucket`` and
``source_key`` (``s3pput-walk s3://B/P`` writes them); put copies it under
any ``--put`` mode, and ``--put copy`` also copies records that name only a
key, from ``--source-bucket``.

CopyObject takes objects up to 5 GiB. A larger one is copied in parts
(UploadPartCopy, several at once); S3 then keeps none of the source's
headers, so they are read from the source first and sent with the new
upload. A failed copy in parts is aborted, so no parts linger. These are the
requests; whether to copy at all (``--put`` mode, dry run) is copy_upload's,
and this module must not know it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from s3pput import log
from s3pput.put.parts import choose_part_size, part_ranges
from s3pput.units import COPY_LIMIT, MiB

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

    from s3pput.records import Record
    from s3pput.transport.clients import S3Client

__all__ = ["Source", "copy", "record_source", "same_object"]

COPY_PART: Final = 256 * MiB
"""Largest part of a copy in parts: the bytes stay in S3, so fewer, larger requests win."""
COPY_THREADS: Final = 8
KEPT_HEADERS: Final = (
    "CacheControl",
    "ContentDisposition",
    "ContentEncoding",
    "ContentLanguage",
    "ContentType",
    "Expires",
    "Metadata",
)
"""What a copy in parts takes from the source object, as CopyObject would have."""

_log = log.get_logger("put")


@dataclass(frozen=True)
class Source:
    """Where a record's bytes are in S3, and what the record knows of them."""

    bucket: str
    key: str
    etag: str | None = None
    """The source's ETag, when walk listed it (``source_etag``); None means ask S3."""

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def record_source(record: Record, default_bucket: str | None = None) -> Source | str | None:
    """The S3 object a record's bytes come from; a str says why its fields do not name one.

    None when the record names no source at all (its bytes are a local
    file). ``default_bucket`` is ``--source-bucket``, for ``--put copy``
    records that name only their key.
    """
    extra = record.extra
    if "source_bucket" not in extra and "source_key" not in extra and default_bucket is None:
        return None
    bucket = extra.get("source_bucket", default_bucket)
    key = extra.get("source_key", record.key)
    etag = extra.get("source_etag")
    if not isinstance(bucket, str) or not bucket:
        return "source_bucket must be a bucket name (or give --source-bucket)"
    if not isinstance(key, str) or not key:
        return "source_key must be a key (or the record's key names the source)"
    return Source(bucket, key, etag.strip('"') if isinstance(etag, str) and etag else None)


def same_object(source_head: Mapping[str, Any], target_head: Mapping[str, Any]) -> bool:
    """Whether a copy would change nothing: the same size and the same ETag.

    A copy of a single-part object keeps its ETag (the MD5 of its bytes).
    A source uploaded in parts has a part-wise ETag that a whole copy does
    not keep, so such a source is always copied again: never wrongly skipped.
    """
    source_etag = str(source_head.get("ETag", "")).strip('"')
    target_etag = str(target_head.get("ETag", "")).strip('"')
    return (
        bool(source_etag)
        and source_etag == target_etag
        and source_head.get("ContentLength") == target_head.get("ContentLength")
    )


def copy(  # noqa: PLR0913  # one copy's facts
    client: S3Client,
    *,
    source: CopySourceTypeDef,
    bucket: str,
    key: str,
    parameters: Mapping[str, Any],
    size: int | None,
    threshold: int = COPY_LIMIT,
) -> str:
    """Copy ``source`` (Bucket, Key) to ``bucket``/``key``; return the new ETag.

    ``size`` is the source's size if the record knows it; otherwise it is
    asked of S3 only when it matters (a source over ``threshold``).
    """
    if size is None or size > threshold:
        head = client.head_object(Bucket=source["Bucket"], Key=source["Key"])
        size = int(head["ContentLength"])
        if size > threshold:
            headers = {**_kept(head), **parameters}
            return _copy_in_parts(
                client,
                source=source,
                target=(bucket, key),
                parameters=headers,
                size=size,
                threshold=threshold,
            )
    response = client.copy_object(Bucket=bucket, Key=key, CopySource=source, **parameters)
    return str(response.get("CopyObjectResult", {}).get("ETag", "")).strip('"')


def _kept(head: Mapping[str, Any]) -> dict[str, Any]:
    return {name: head[name] for name in KEPT_HEADERS if head.get(name)}


def _copy_in_parts(  # noqa: PLR0913  # one copy's facts
    client: S3Client,
    *,
    source: CopySourceTypeDef,
    target: tuple[str, str],
    parameters: Mapping[str, Any],
    size: int,
    threshold: int,
) -> str:
    """Copy in parts of at most ``threshold`` (and COPY_PART), COPY_THREADS at a time."""
    bucket, key = target
    part_size = choose_part_size(size, min(COPY_PART, threshold))
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **parameters)["UploadId"]

    def copy_part(part: tuple[int, int, int]) -> CompletedPartTypeDef:
        number, offset, length = part
        answer = client.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={offset}-{offset + length - 1}",
        )
        return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}

    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415  # it loads logging: only for copies in parts

    try:
        with ThreadPoolExecutor(COPY_THREADS, thread_name_prefix="s3pput-copy") as pool:
            parts = list(pool.map(copy_part, part_ranges(size, part_size)))
        done = client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001  # the copy's own error is the one to report
            _log.warning("could not abort copy", key=key, upload_id=upload_id, error=str(exc))
        raise
    _log.info("copied in parts", key=key, parts=len(parts), part_size=part_size)
    return str(done.get("ETag", "")).strip('"')
