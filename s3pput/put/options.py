"""What decides how records are uploaded: the ``--put`` mode, comparisons, headers, sizes.

Built once by the command layer and read by every operation. It must not know
clients, records or how a body is sent; so any module of the put stage may
import it (the destination does, without knowing the uploader).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from s3pput.put.content_type import DEFAULT_GZIP_TYPES
from s3pput.units import COPY_LIMIT, MiB

__all__ = ["Compare", "PutMode", "PutOptions"]

PutMode: TypeAlias = Literal["add", "stupid", "update", "copy"]
Compare: TypeAlias = Literal["checksum", "size", "size-mtime"]


@dataclass(frozen=True)
class PutOptions:
    """Everything that decides how records are uploaded; built once by the CLI."""

    bucket: str
    mode: PutMode = "update"
    compare: Compare = "checksum"
    """How ``update`` tells a file unchanged: its MD5 (right after a git checkout,
    never misses a same-size edit), or only the listing's size (and date)."""
    content_type: str = "guess"
    gzip: bool = False
    gzip_types: frozenset[str] | None = DEFAULT_GZIP_TYPES
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """boto3 PutObject parameters: ACL, StorageClass, ServerSideEncryption, CacheControl..."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    raw_headers: tuple[tuple[str, str], ...] = ()
    """Headers S3 has no parameter for, sent as they are (checked by headers.py)."""
    dry_run: bool = False
    allow_control_keys: bool = True
    """Send keys with control characters (line breaks, escapes); False fails them instead."""
    multipart_threshold: int = 8 * MiB
    part_size: int = 8 * MiB
    source_bucket: str | None = None
    copy_threshold: int = COPY_LIMIT
    """``--put copy`` copies objects above this in parts (S3 copies at most 5 GiB whole)."""
