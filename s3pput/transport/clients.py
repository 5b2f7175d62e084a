"""Making S3 clients: the only module that imports boto3 (native.py has the native one).

Credentials, region and endpoint are what botocore's session, which boto3
itself uses, would say. In the common case (static keys, a given endpoint)
aws_config reads them in a few milliseconds; otherwise botocore's session
is asked. boto3, botocore and the CRT are imported only in the functions
that need them, since loading them costs about 0.3 s that ``--help``, a
usage error or a run sent by the native client alone would otherwise pay.
The boto3 client (HEAD, COPY) is built at its first use: building it loads
S3's service model, about 0.2 s that a run of new files never needs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from s3pput.transport.aws_config import Keys, StaticKeys, named_profile, read_settings
from s3pput.transport.customer_key import KEYED_OPERATIONS, CustomerKey
from s3pput.transport.retry import RetryPolicy
from s3pput.transport.settings import (
    ADDRESSING_STYLES,
    AWS_DOMAIN,
    DEFAULT_CHECKSUM,
    DEFAULT_REGION,
    AddressingStyle,
)

if TYPE_CHECKING:
    import botocore.config
    import botocore.session
    from botocore.awsrequest import AWSRequest
    from mypy_boto3_s3 import S3Client

    from s3pput.transport.aws_config import AwsSettings
    from s3pput.transport.native import NativePutter
else:
    S3Client = object

__all__ = [
    "ADDRESSING_STYLES",
    "AddressingStyle",
    "ClientOptions",
    "LazyClient",
    "S3Client",
    "has_credentials",
    "keyed_client",
    "load_native",
    "make_client",
    "make_putter",
]

_NO_KEYS: Final = StaticKeys("none", "none")
"""What a putter that sends nothing signs with when there are no keys."""


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
    customer_key: CustomerKey | None = field(default=None, repr=False)
    """``--sse-c``'s key, sent with every request about an object's bytes (never shown)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)


class _Configuration(Protocol):
    """The answers s3pput asks of AWS's configuration, each asked only when needed."""

    def credentials(self) -> Keys | None:
        """The keys to sign with, or None when there are none."""
        ...

    def region(self) -> str | None:
        """The configured region (None or '' when none)."""
        ...

    def endpoint(self) -> str | None:
        """The configured endpoint (environment, config file), or None."""
        ...

    def ca_bundle(self) -> object:
        """The configured CA bundle (AWS_CA_BUNDLE, the profile's), or None."""
        ...

    def addressing_style(self) -> object:
        """The profile's ``s3.addressing_style``, or None."""
        ...


@dataclass(frozen=True)
class _ReadHere:
    """The answers of aws_config's reader, botocore's for the common case."""

    settings: AwsSettings

    def credentials(self) -> Keys | None:
        return self.settings.keys

    def region(self) -> str | None:
        return self.settings.region

    def endpoint(self) -> str | None:
        return self.settings.endpoint_url

    def ca_bundle(self) -> object:
        return self.settings.ca_bundle

    def addressing_style(self) -> object:
        return self.settings.addressing_style


@dataclass(frozen=True)
class _AskBotocore:
    """The answers of botocore's session: roles, SSO, processes, the instance's keys."""

    session: botocore.session.Session

    def credentials(self) -> Keys | None:
        keys: Keys | None = self.session.get_credentials()
        return keys

    def region(self) -> str | None:
        region: str | None = self.session.get_config_variable("region")
        return region

    def endpoint(self) -> str | None:
        return _configured_endpoint(self.session)

    def ca_bundle(self) -> object:
        return self.session.get_config_variable("ca_bundle")

    def addressing_style(self) -> object:
        section = self.session.get_config_variable("s3")
        return section.get("addressing_style") if isinstance(section, dict) else None


def _session(options: ClientOptions) -> botocore.session.Session:
    import botocore.session  # noqa: PLC0415  # see the module docstring

    return botocore.session.Session(profile=options.profile)


def _configuration(options: ClientOptions, *, needs_keys: bool) -> _Configuration:
    """aws_config's answers when it has them all, else botocore's session's.

    Without static keys botocore may still find some (a role, the instance's);
    a run that ``needs_keys`` then asks it.
    """
    settings = read_settings(options.profile)
    if settings is not None and (settings.keys is not None or not needs_keys):
        return _ReadHere(settings)
    return _AskBotocore(_session(options))


def has_credentials(options: ClientOptions) -> bool:
    """Tell whether boto3's chain finds any credentials, without printing them."""
    return _configuration(options, needs_keys=True).credentials() is not None


def _verify(options: ClientOptions, configured: object) -> bool | str:
    """What to verify TLS with, as aws-cli decides it.

    --insecure wins, then --ca-bundle, then AWS_CA_BUNDLE or the profile's
    ``ca_bundle`` (botocore's configuration chain), then the system's CAs.
    botocore itself reads the chain only when given no ``verify`` at all,
    and the native client never did.
    """
    if options.verify is not True:
        return options.verify
    return configured if isinstance(configured, str) and configured else True


def _addressing_style(options: ClientOptions, configured: object) -> AddressingStyle:
    """--addressing-style, else the profile's ``s3.addressing_style``, else auto."""
    if options.addressing_style is not None:
        return options.addressing_style
    return next((style for style in ADDRESSING_STYLES if style == configured), "auto")


def _is_aws(endpoint: str | None) -> bool:
    """Whether an endpoint is AWS's own (None: botocore picks AWS's)."""
    return endpoint is None or (urlsplit(endpoint).hostname or "").endswith(AWS_DOMAIN)


def _configured_endpoint(session: botocore.session.Session) -> str | None:
    """The endpoint set by AWS_ENDPOINT_URL(_S3) or the config file, as boto3 reads it."""
    from botocore.configprovider import ConfiguredEndpointProvider  # noqa: PLC0415  # see the module docstring

    if session.get_config_variable("ignore_configured_endpoint_urls"):
        return None
    provider = ConfiguredEndpointProvider(
        full_config=session.full_config,
        scoped_config=session.get_scoped_config(),
        client_name="s3",
    )
    endpoint: str | None = provider.provide()
    return endpoint


def load_native() -> None:
    """Load the native client's library now (~55 ms, most of it AWS-LC seeding its RNG).

    Put calls this before it forks its worker processes: loading starts no
    thread, and each worker then finds it loaded instead of paying again.
    """
    import s3pput.transport.native  # noqa: F401, PLC0415  # loaded for its side effect


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

    Credentials, region and a configured endpoint are resolved as botocore
    resolves them (flags, environment, config files; roles by botocore
    itself); only without any endpoint (AWS itself) is a client built, so
    botocore's endpoint rules decide. Given a ``client``, its endpoint and
    region are used. The CRT then only signs and sends. A putter that
    ``sends_nothing`` (a dry run that needs no listing) may do without
    credentials.
    """
    from s3pput.transport.native import NativePutter  # noqa: PLC0415  # the CRT: see the module docstring

    configuration = _configuration(options, needs_keys=not sends_nothing)
    credentials = configuration.credentials()
    if credentials is None and sends_nothing:
        credentials = _NO_KEYS
    if credentials is None:
        import botocore.exceptions  # noqa: PLC0415  # only botocore's session gets here

        raise botocore.exceptions.NoCredentialsError
    endpoint = options.endpoint_url or configuration.endpoint()
    region = options.region or configuration.region() or DEFAULT_REGION
    if client is not None or endpoint is None:
        client = client or make_client(options)
        endpoint, region = client.meta.endpoint_url, client.meta.region_name
    style = _addressing_style(options, configuration.addressing_style())
    return NativePutter(
        endpoint_url=endpoint,
        region=region,
        credentials=credentials,
        verify=_verify(options, configuration.ca_bundle()),
        virtual_hosted=style == "virtual" or (style == "auto" and _is_aws(endpoint)),
        part_size=part_size,
        multipart_threshold=multipart_threshold,
        connections=connections,
        checksum=checksum,
        policy=options.retry,
        customer_key=options.customer_key,
        profile=named_profile(options.profile) or None,
        credential_source=credential_source(credentials),
    )


def credential_source(keys: object) -> str:
    """Where keys came from, in words, for ``-v``: never the keys themselves.

    aws_config's keys say where they were read; botocore's name their
    provider (``iam-role``, ``assume-role``, ``sso``, ``env``...).
    """
    if keys is _NO_KEYS:
        return "none (nothing is sent)"
    source = getattr(keys, "source", "")
    if source:
        return str(source)
    method = getattr(keys, "method", "")
    return f"botocore's chain: {method}" if method else "botocore's chain"


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
    configured = _AskBotocore(core)
    style = _addressing_style(options, configured.addressing_style())
    if style == "auto" and not _is_aws(options.endpoint_url or configured.endpoint()):
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
        "s3",
        endpoint_url=options.endpoint_url,
        verify=_verify(options, configured.ca_bundle()),
        config=config,
    )
    _add_headers(client, tuple(options.extra_headers), _CREATING)
    if options.customer_key is not None:
        _add_headers(client, options.customer_key.headers(), KEYED_OPERATIONS)
    return client


_CREATING: Final = ("PutObject", "CreateMultipartUpload", "CopyObject")
"""The requests that make an object: ``--header``'s raw headers go with these."""


def _add_headers(
    client: S3Client, headers: tuple[tuple[str, str], ...], operations: Iterable[str]
) -> None:
    """Send ``headers`` with each of ``operations``, signed with the rest of the request."""
    if not headers:
        return

    def add_headers(request: AWSRequest, **_: object) -> None:
        for name, value in headers:
            request.headers[name] = value

    for operation in operations:
        client.meta.events.register(f"before-sign.s3.{operation}", add_headers)


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
