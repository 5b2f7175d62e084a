"""Check a run's work: the process succeeded and the prefix holds exactly the dataset.

A run that exits non-zero, times out, or leaves the wrong number of objects or
bytes is reported as failed rather than dropped, so a fast but wrong tool
cannot win a table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from bench_data import Dataset
from bench_run import Measurement

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["Listing", "list_prefix", "verify"]

Listing: TypeAlias = dict[str, tuple[int, str]]
"""Key -> (size, ETag and LastModified): what changes when an object is written again."""


def list_prefix(client: S3Client, bucket: str, prefix: str) -> Listing:
    """Every object under ``prefix/``, through all pages of ListObjectsV2."""
    listing: Listing = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        for obj in page.get("Contents", []):
            stamp = f"{obj.get('ETag', '')}@{obj['LastModified'].isoformat()}"
            listing[obj["Key"]] = (obj.get("Size", 0), stamp)
    return listing


def verify(measured: Measurement, listing: Listing, dataset: Dataset) -> str | None:
    """Why the run failed, or None when it exited 0 and uploaded the whole dataset."""
    if measured.exit_code is None:
        return f"timed out after {measured.wall_s:.0f} s"
    if measured.exit_code != 0:
        return f"exit {measured.exit_code}"
    if len(listing) != dataset.files:
        return f"{len(listing)} objects under the prefix, expected {dataset.files}"
    stored = sum(size for size, _ in listing.values())
    if stored != dataset.bytes:
        return f"{stored} bytes under the prefix, expected {dataset.bytes}"
    return None
