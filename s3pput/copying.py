"""Server-side copies (``--put copy``): one CopyObject, or parts for objects S3 will not copy whole.

CopyObject takes objects up to 5 GiB. A larger one is copied in parts
(UploadPartCopy, several at once); S3 then keeps none of the source's
headers, so they are read from the source first and sent with the new
upload. A failed copy in parts is aborted, so no parts linger.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

from s3pput import log
from s3pput.multipart import choose_part_size, part_ranges

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

    from s3pput.s3 import S3Client

__all__ = ["COPY_LIMIT", "copy"]

MiB: Final = 1024 * 1024
COPY_LIMIT: Final = 5 * 1024 * MiB
"""The largest object one CopyObject copies."""
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
