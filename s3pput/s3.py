"""Making S3 clients: the only module that imports boto3 (crt.py has the native one)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions

from s3pput.crt import CrtPutter

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from mypy_boto3_s3 import S3Client
else:
    S3Client = object

__all__ = [
    "ClientOptions",
    "NoCredentialsError",
    "S3Client",
    "has_credentials",
    "make_client",
    "make_putter",
]

DEFAULT_REGION: Final = "us-east-1"
AWS_DOMAIN: Final = ".amazonaws.com"
"""Only AWS itself gets virtual-hosted requests; other stores get path-style ones."""

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


def make_putter(
    options: ClientOptions,
    client: S3Client,
    *,
    part_size: int,
    multipart_threshold: int,
    connections: int | None = None,
) -> CrtPutter:
    """Build the native PUT path to the same endpoint, region and credentials as ``client``.

    boto3 resolves all three (flags, environment, config files, roles); the
    CRT then only signs and sends.
    """
    credentials = _session(options).get_credentials()
    if credentials is None:
        raise NoCredentialsError
    return CrtPutter(
        endpoint_url=client.meta.endpoint_url,
        region=client.meta.region_name,
        credentials=credentials,
        verify=options.verify,
        virtual_hosted=(urlsplit(client.meta.endpoint_url).hostname or "").endswith(AWS_DOMAIN),
        part_size=part_size,
        multipart_threshold=multipart_threshold,
        connections=connections,
    )


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
