"""Making S3 clients: the only module that imports boto3 (native.py has the native one).

Credentials, region and endpoint come from botocore's session, which is what
boto3 itself uses. The boto3 client (HEAD, COPY) is built at its first use:
building it loads S3's service model, about 0.2 s that a run of new files,
all sent by the native client, never needs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias
from urllib.parse import urlsplit

import botocore.credentials
import botocore.exceptions
import botocore.session
from botocore.configprovider import ConfiguredEndpointProvider

from s3pput.transport.checksums import DEFAULT_CHECKSUM
from s3pput.transport.native import NativePutter
from s3pput.transport.retry import RetryPolicy

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from mypy_boto3_s3 import S3Client
else:
    S3Client = object

__all__ = [
    "ADDRESSING_STYLES",
    "AddressingStyle",
    "ClientOptions",
    "LazyClient",
    "NoCredentialsError",
    "S3Client",
    "has_credentials",
    "keyed_client",
    "make_client",
    "make_putter",
]

DEFAULT_REGION: Final = "us-east-1"
AWS_DOMAIN: Final = ".amazonaws.com"
"""Only AWS itself gets virtual-hosted requests; other stores get path-style ones."""

NoCredentialsError = botocore.exceptions.NoCredentialsError

AddressingStyle: TypeAlias = Literal["auto", "path", "virtual"]
ADDRESSING_STYLES: Final[tuple[AddressingStyle, ...]] = ("auto", "path", "virtual")
"""How a request names the bucket: ``virtual`` in the host (``bucket.host/key``), ``path``
in the path (``host/bucket/key``), ``auto`` virtual on AWS and path on any other store."""


@dataclass(frozen=True)
class ClientOptions:
    """Where and how to connect; credentials always come from boto3's standard chain."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    verify: bool | str = True
    """False only when the user asked for --insecure; a str is a CA bundle path (--ca-bundle).
    True means: the CA bundle AWS_CA_BUNDLE or the profile's ca_bundle names, else the system's."""
    addressing_style: AddressingStyle | None = None
    """--addressing-style; None: the profile's ``s3.addressing_style``, else auto."""
    max_connections: int = 32
    extra_headers: Sequence[tuple[str, str]] = ()
    """Headers S3 has no parameter for, sent with every object-creating request."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)


def _session(options: ClientOptions) -> botocore.session.Session:
    return botocore.session.Session(profile=options.profile)


def has_credentials(options: ClientOptions) -> bool:
    """Tell whether boto3's chain finds any credentials, without printing them."""
    return _session(options).get_credentials() is not None


def _verify(options: ClientOptions, session: botocore.session.Session) -> bool | str:
    """What to verify TLS with, as aws-cli decides it.

    --insecure wins, then --ca-bundle, then AWS_CA_BUNDLE or the profile's
    ``ca_bundle`` (botocore's configuration chain), then the system's CAs.
    botocore itself reads the chain only when given no ``verify`` at all,
    and the native client never did.
    """
    if options.verify is not True:
        return options.verify
    configured = session.get_config_variable("ca_bundle")
    return configured if isinstance(configured, str) and configured else True


def _addressing_style(options: ClientOptions, session: botocore.session.Session) -> AddressingStyle:
    """--addressing-style, else the profile's ``s3.addressing_style``, else auto."""
    if options.addressing_style is not None:
        return options.addressing_style
    section = session.get_config_variable("s3")
    configured = section.get("addressing_style") if isinstance(section, dict) else None
    return next((style for style in ADDRESSING_STYLES if style == configured), "auto")


def _is_aws(endpoint: str | None) -> bool:
    """Whether an endpoint is AWS's own (None: botocore picks AWS's)."""
    return endpoint is None or (urlsplit(endpoint).hostname or "").endswith(AWS_DOMAIN)


def _configured_endpoint(session: botocore.session.Session) -> str | None:
    """The endpoint set by AWS_ENDPOINT_URL(_S3) or the config file, as boto3 reads it."""
    if session.get_config_variable("ignore_configured_endpoint_urls"):
        return None
    provider = ConfiguredEndpointProvider(
        full_config=session.full_config,
        scoped_config=session.get_scoped_config(),
        client_name="s3",
    )
    endpoint: str | None = provider.provide()
    return endpoint


def make_putter(  # noqa: PLR0913  # the native client's settings, each from a flag
    options: ClientOptions,
    client: S3Client | None = None,
    *,
    part_size: int,
    multipart_threshold: int,
    connections: int | None = None,
    checksum: str = DEFAULT_CHECKSUM,
    sends_nothing: bool = False,
) -> NativePutter:
    """Build the native PUT path, to the endpoint and region a boto3 client would use.

    botocore resolves credentials, region and a configured endpoint (flags,
    environment, config files, roles); only without any endpoint (AWS
    itself) is a client built, so botocore's endpoint rules decide. Given a
    ``client``, its endpoint and region are used. The CRT then only signs
    and sends. A putter that ``sends_nothing`` (a dry run that needs no
    listing) may do without credentials.
    """
    session = _session(options)
    credentials = session.get_credentials()
    if credentials is None and sends_nothing:
        credentials = botocore.credentials.Credentials("none", "none")
    if credentials is None:
        raise NoCredentialsError
    endpoint = options.endpoint_url or _configured_endpoint(session)
    region = options.region or session.get_config_variable("region") or DEFAULT_REGION
    if client is not None or endpoint is None:
        client = client or make_client(options)
        endpoint, region = client.meta.endpoint_url, client.meta.region_name
    style = _addressing_style(options, session)
    return NativePutter(
        endpoint_url=endpoint,
        region=region,
        credentials=credentials,
        verify=_verify(options, session),
        virtual_hosted=style == "virtual" or (style == "auto" and _is_aws(endpoint)),
        part_size=part_size,
        multipart_threshold=multipart_threshold,
        connections=connections,
        checksum=checksum,
        policy=options.retry,
    )


def make_client(options: ClientOptions) -> S3Client:
    """Build one thread-safe client, shared by every upload of a run.

    Addressing as the native client's: in auto style a custom endpoint gets
    path-style addressing, which every S3-compatible store understands, and
    AWS itself botocore's choice (virtual-hosted where the bucket allows).
    """
    import boto3  # noqa: PLC0415  # see the module docstring
    import botocore.config  # noqa: PLC0415  # see the module docstring

    core = _session(options)
    session = boto3.Session(botocore_session=core)
    style = _addressing_style(options, core)
    if style == "auto" and not _is_aws(options.endpoint_url or _configured_endpoint(core)):
        style = "path"
    config = botocore.config.Config(
        region_name=options.region or session.region_name or DEFAULT_REGION,
        max_pool_connections=options.max_connections,
        connect_timeout=10,
        read_timeout=options.retry.timeout,
        # HEAD and COPY: botocore's own retries, with its client-side rate limiter.
        retries={"mode": "adaptive", "total_max_attempts": options.retry.retries + 1},
        s3={"addressing_style": style},
    )
    client: S3Client = session.client(
        "s3", endpoint_url=options.endpoint_url, verify=_verify(options, core), config=config
    )
    if options.extra_headers:
        headers = tuple(options.extra_headers)

        def add_headers(request: AWSRequest, **_: object) -> None:
            for name, value in headers:
                request.headers[name] = value

        for operation in ("PutObject", "CreateMultipartUpload", "CopyObject"):
            client.meta.events.register(f"before-sign.s3.{operation}", add_headers)
    return client


class LazyClient:
    """Stands in for the boto3 client and builds it at the first call (thread-safe)."""

    def __init__(self, options: ClientOptions) -> None:
        self._options = options
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    def get(self) -> S3Client:
        """The client, built now if this is the first use."""
        with self._lock:
            if self._client is None:
                self._client = make_client(self._options)
            return self._client

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401  # whatever the client has
        return getattr(self.get(), name)


def keyed_client(
    endpoint_url: str,
    access_key: str,
    secret_key: str,
    config: botocore.config.Config | None = None,
) -> S3Client:
    """A boto3 client with explicit keys and no configuration read: for a server we started.

    The demo's and the tests' local server hands out its own keys; a user's
    profile or environment must not change what its client does.
    """
    import boto3  # noqa: PLC0415  # see the module docstring

    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=DEFAULT_REGION,
        config=config,
    )
