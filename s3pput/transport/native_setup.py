"""The native clients' setup: their connections, the endpoint's certificate, boto3's keys.

A run has three native clients (small uploads, parts, listings) sharing one
event loop, one signer and one TLS setup. The CRT does not give up on a
certificate it cannot verify, so the endpoint is checked once here with
Python's ssl; boto3's credential chain (profiles, roles, SSO) is handed to
the CRT, refreshable keys asked for at each signing. No request to S3 is
made here: native.py sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from awscrt import auth, s3
from awscrt import io as crt_io

from s3pput.units import MiB

if TYPE_CHECKING:
    from s3pput.transport.aws_config import Keys

__all__ = ["NativeClients", "credentials_provider", "native_clients", "tls_problem"]

MEMORY_LIMIT: Final = 256 * MiB
"""The CRT's buffer pool; 256 MiB is its minimum and keeps put near 150 MB RSS."""
EVENT_LOOPS: Final = 1
"""Native I/O threads. One keeps up with a 1 GiB upload here and, for 10,000 small
files, costs a third less CPU than one per core (less cross-thread wake-up)."""
THROUGHPUT_TARGET_GBPS: Final = 100.0
LIST_CONNECTIONS: Final = 8
LARGE_CONNECTIONS: Final = 5
"""Connections for parts (and the requests around them) across all large files; parts in
flight are bounded by parts.PartSlots. A 1 GiB upload took 6.5 s with 5 or 8."""
_NO_RETRIES: Final = s3.S3RetryConfig(retry_mode=s3.S3RetryMode.NONE)


def tls_problem(host: str, port: int, *, verify: bool | str) -> str | None:
    """Check the endpoint's certificate once with Python's ssl; return why it fails, if it does.

    The CRT does not give up on a certificate it cannot verify (it retries
    and its request never finishes), so an untrusted endpoint is found here
    and every record then fails at once with this reason. Network errors are
    not judged here: the requests themselves report them.
    """
    if verify is False:
        return None
    import socket  # noqa: PLC0415  # Python's TLS only for an https endpoint (ssl costs ~4 ms)
    import ssl  # noqa: PLC0415  # see above

    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    try:
        with (
            socket.create_connection((host, port), timeout=10) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return f"TLS certificate verify failed for {host}:{port}: {exc.verify_message}"
    except OSError:
        return None


def credentials_provider(
    credentials: Keys,
) -> auth.AwsCredentialsProvider:
    """Hand boto3's credentials to the CRT.

    Keys that never change are handed over once; refreshable ones (roles, SSO)
    are asked of boto3 at each signing, which costs a Python call per request.
    """
    if not hasattr(credentials, "refresh_needed"):
        frozen = credentials.get_frozen_credentials()
        return auth.AwsCredentialsProvider.new_static(
            frozen.access_key, frozen.secret_key, frozen.token
        )

    def current() -> auth.AwsCredentials:
        frozen = credentials.get_frozen_credentials()
        return auth.AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)

    return auth.AwsCredentialsProvider.new_delegate(current)


@dataclass(frozen=True)
class NativeClients:
    """The native clients of one run, and whether requests may be sent at all."""

    uploads: s3.S3Client
    """Single-request uploads: a connection per upload in flight."""
    large: s3.S3Client
    """Parts of large files and the requests around them: a few connections."""
    lister: s3.S3Client
    """Listings, kept out of the queue of uploads."""
    refusal: str | None
    """Why no request may be sent (the endpoint's certificate fails), or None."""


def native_clients(  # noqa: PLR0913  # each is one setting of the native clients
    *,
    endpoint_url: str,
    region: str,
    credentials: Keys,
    verify: bool | str,
    part_size: int,
    multipart_threshold: int,
    connections: int | None,
) -> NativeClients:
    """Build the run's three native clients: one TLS setup, one signer, one event loop."""
    url = urlsplit(endpoint_url)
    refusal: str | None = None
    tls_mode = s3.S3RequestTlsMode.ENABLED
    tls_options = None
    if url.scheme == "http":
        tls_mode = s3.S3RequestTlsMode.DISABLED
    else:
        refusal = tls_problem(url.hostname or "", url.port or 443, verify=verify)
        context = crt_io.TlsContextOptions()
        if verify is False:
            context.verify_peer = False
        elif isinstance(verify, str):
            context.override_default_trust_store_from_path(ca_filepath=verify)
        tls_options = crt_io.ClientTlsContext(context).new_connection_options()

    signing = s3.create_default_s3_signing_config(
        region=region, credential_provider=credentials_provider(credentials)
    )
    loops = crt_io.EventLoopGroup(EVENT_LOOPS)
    bootstrap = crt_io.ClientBootstrap(loops, crt_io.DefaultHostResolver(loops))
    common = {
        "bootstrap": bootstrap,
        "region": region,
        "tls_mode": tls_mode,
        "tls_connection_options": tls_options,
        "signing_config": signing,
        "connect_timeout_ms": 10_000,
        "retry_config": _NO_RETRIES,
    }
    uploads = s3.S3Client(
        **common,
        part_size=part_size,
        multipart_upload_threshold=multipart_threshold,
        memory_limit=MEMORY_LIMIT,
        # The CRT sizes its connection pool from the throughput target (about ten
        # connections at its default); small files need one per upload in flight,
        # so aim high and cap the pool at the number of uploads in flight.
        throughput_target_gbps=THROUGHPUT_TARGET_GBPS,
        max_active_connections_override=connections,
    )
    # Parts of large files get their own client with a few connections: parts in
    # flight are buffered (up to the pool's 256 MiB), and a few saturate one link.
    large = s3.S3Client(
        **common,
        part_size=part_size,
        multipart_upload_threshold=multipart_threshold,
        memory_limit=MEMORY_LIMIT,
        max_active_connections_override=LARGE_CONNECTIONS,
    )
    # Listings get their own client: behind a queue of PUTs they waited ~20 ms
    # each, while the records of their directory waited for them.
    lister = s3.S3Client(
        **common,
        memory_limit=MEMORY_LIMIT,
        max_active_connections_override=LIST_CONNECTIONS,
    )
    return NativeClients(uploads, large, lister, refusal)
