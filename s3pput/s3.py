"""Making S3 clients: the only module that imports boto3."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import boto3
import botocore.config
import botocore.exceptions

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from mypy_boto3_s3 import S3Client
else:
    S3Client = object

__all__ = ["ClientOptions", "NoCredentialsError", "S3Client", "has_credentials", "make_client"]

DEFAULT_REGION: Final = "us-east-1"

NoCredentialsError = botocore.exceptions.NoCredentialsError


@dataclass(frozen=True)
class ClientOptions:
    """Where and how to connect; credentials always come from boto3's standard chain."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    verify: bool | str = True
    """False only when the user asked for --insecure; a str is a CA bundle path."""
    max_connections: int = 32
    extra_headers: Sequence[tuple[str, str]] = ()
    """Headers S3 has no parameter for, sent with every object-creating request."""


def _session(options: ClientOptions) -> boto3.Session:
    return boto3.Session(profile_name=options.profile)


def has_credentials(options: ClientOptions) -> bool:
    """Tell whether boto3's chain finds any credentials, without printing them."""
    return _session(options).get_credentials() is not None


def make_client(options: ClientOptions) -> S3Client:
    """Build one thread-safe client, shared by every upload of a run.

    A custom endpoint gets path-style addressing, which every S3-compatible
    store understands; AWS itself keeps virtual-hosted style.
    """
    session = _session(options)
    config = botocore.config.Config(
        region_name=options.region or session.region_name or DEFAULT_REGION,
        max_pool_connections=options.max_connections,
        connect_timeout=10,
        read_timeout=120,
        retries={"mode": "standard", "max_attempts": 3},
        s3={"addressing_style": "path" if options.endpoint_url else "auto"},
    )
    client: S3Client = session.client(
        "s3", endpoint_url=options.endpoint_url, verify=options.verify, config=config
    )
    if options.extra_headers:
        headers = tuple(options.extra_headers)

        def add_headers(request: AWSRequest, **_: object) -> None:
            for name, value in headers:
                request.headers[name] = value

        for operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
            client.meta.events.register(f"before-sign.s3.{operation}", add_headers)
    return client
