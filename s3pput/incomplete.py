"""Multipart uploads that were started and never completed: list them, abort them.

An interrupted upload of a large file leaves its parts stored (and billed)
until someone aborts it; S3 shows none of it in a listing of objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s3pput.s3 import S3Client

__all__ = ["Incomplete", "abort_incomplete"]


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
    """Abort every unfinished multipart upload under ``prefix`` (only list them if ``dry_run``)."""
    pages = client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for upload in page.get("Uploads", []):
            key, upload_id = upload["Key"], upload["UploadId"]
            if not dry_run:
                client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
            yield Incomplete(key, upload_id, upload.get("Initiated"), aborted=not dry_run)
