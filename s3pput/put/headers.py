"""Checking ``--header`` and ``--metadata`` before anything is sent.

A value with CR or LF could smuggle a second header into the request, so such
input is a usage error, never a request. Known headers become boto3
parameters; the rest are sent as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from s3pput.errors import HeaderError

__all__ = ["UploadHeaders", "parse_headers", "parse_metadata", "request_headers"]

_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_VALUE: Final = re.compile(r"[\x20-\x7e\t]*")
"""Matched with ``fullmatch``: ``$`` would also match before a final newline."""
_META_PREFIX: Final = "x-amz-meta-"

_PARAMETERS: Final = {
    "cache-control": "CacheControl",
    "content-disposition": "ContentDisposition",
    "content-encoding": "ContentEncoding",
    "content-language": "ContentLanguage",
    "content-type": "ContentType",
    "expires": "Expires",
    "x-amz-acl": "ACL",
    "x-amz-server-side-encryption": "ServerSideEncryption",
    "x-amz-storage-class": "StorageClass",
    "x-amz-tagging": "Tagging",
    "x-amz-website-redirect-location": "WebsiteRedirectLocation",
}
"""Headers that S3's API takes as parameters (so multipart uploads get them too)."""

_FORBIDDEN: Final = frozenset(
    {"host", "content-length", "content-md5", "authorization", "transfer-encoding", "expect"}
)


@dataclass(frozen=True)
class UploadHeaders:
    """What ``--header`` and ``--metadata`` asked for, split by how it is sent."""

    parameters: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    raw: tuple[tuple[str, str], ...] = ()


def _check_name(name: str, what: str) -> None:
    if not name or not _TOKEN.fullmatch(name):
        raise HeaderError(f"{what} name {name!r} is not a valid HTTP header name")


def _check_value(value: str, what: str) -> None:
    if not _VALUE.fullmatch(value):
        raise HeaderError(
            f"{what} value {value!r} has a line break, control or non-ASCII character"
        )


def parse_headers(items: Iterable[str]) -> UploadHeaders:
    """Parse ``NAME:VALUE`` items; raise HeaderError for anything unsafe or malformed."""
    parameters: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    raw: list[tuple[str, str]] = []
    for item in items:
        name, colon, value = item.partition(":")
        if not colon:
            raise HeaderError(f"--header {item!r} has no ':' (use NAME:VALUE)")
        name, value = name.strip(), value.strip()
        _check_name(name, "header")
        _check_value(value, "header")
        lower = name.lower()
        if lower in _FORBIDDEN:
            raise HeaderError(f"header {name!r} is set by s3pput itself")
        if lower.startswith(_META_PREFIX) and len(lower) > len(_META_PREFIX):
            metadata[lower.removeprefix(_META_PREFIX)] = value
        elif lower in _PARAMETERS:
            parameters[_PARAMETERS[lower]] = value
        else:
            raw.append((name, value))
    return UploadHeaders(parameters=parameters, metadata=metadata, raw=tuple(raw))


_HEADER_OF: Final = {parameter: header for header, parameter in _PARAMETERS.items()}


def request_headers(
    parameters: Mapping[str, Any], metadata: Mapping[str, str]
) -> list[tuple[str, str]]:
    """Turn boto3-style parameters and user metadata into the HTTP headers of a PutObject."""
    headers = [
        (_HEADER_OF[name], str(value)) for name, value in parameters.items() if name in _HEADER_OF
    ]
    headers.extend((f"{_META_PREFIX}{name}", value) for name, value in metadata.items())
    return headers


def parse_metadata(items: Iterable[str]) -> dict[str, str]:
    """Parse ``--metadata KEY=VALUE`` items into user metadata (``x-amz-meta-KEY``)."""
    metadata: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals:
            raise HeaderError(f"--metadata {item!r} has no '=' (use KEY=VALUE)")
        _check_name(name, "metadata")
        _check_value(value, "metadata")
        metadata[name.lower()] = value
    return metadata
