"""Multipart uploads that were started and never completed: list them, abort them.

An interrupted upload of a large file leaves its parts stored (and billed)
until someone aborts it; S3 shows none of it in a listing of objects. Some
stores (s3rver) have no ListMultipartUploads: that is said once, as a fatal
error, rather than as a failed run that reads like a network fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from s3pput.errors import UploadsUnlistableError
from s3pput.transport.errors import code_and_message, error_code, request_errors

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import ListMultipartUploadsOutputTypeDef

    from s3pput.transport.clients import S3Client

__all__ = ["Incomplete", "abort_incomplete"]

_MISSING_OPERATION: Final = frozenset({"NotImplemented", "MethodNotAllowed", "501", "405"})
"""What a store answers for an operation it does not have."""


@dataclass(frozen=True)
class Incomplete:
    """One unfinished multipart upload, and whether it was aborted."""

    key: str
    upload_id: str
    initiated: datetime | None
    aborted: bool


def abort_incomplete(
    client: S3Client, bucket: str, prefix: str, *, dry_run: bool = False
) -> Iterator[Incomplete]:
    """Abort every unfinished multipart upload under ``prefix`` (only list them if ``dry_run``).

    Raise UploadsUnlistableError if the store has no ListMultipartUploads.
    """
    pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
    for page in _pages(pages):
        for upload in page.get("Uploads", []):
            key, upload_id = upload["Key"], upload["UploadId"]
            if not dry_run:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            yield Incomplete(key, upload_id, upload.get("Initiated"), aborted=not dry_run)


def _pages(
    pages: Iterable[ListMultipartUploadsOutputTypeDef],
) -> Iterator[ListMultipartUploadsOutputTypeDef]:
    """The listing's pages; UploadsUnlistableError where the store has no such operation."""
    try:
        yield from pages
    except request_errors() as exc:
        if error_code(exc) not in _MISSING_OPERATION:
            raise
        message = code_and_message(exc)
        raise UploadsUnlistableError(
            f"this store cannot list unfinished multipart uploads (ListMultipartUploads: {message})"
        ) from None
