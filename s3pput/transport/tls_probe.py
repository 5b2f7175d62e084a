"""Why an https endpoint does not answer: its port may speak plain HTTP.

An ``https://`` URL with an http port (a local store, a typo) otherwise
costs a wait and then "socket is closed" on every record. When the first
request has not succeeded, two connections tell it apart: the TLS
handshake fails, and a plain ``HEAD`` gets an HTTP status line. Only then
is the answer yes; a store that is down, slow or filtered answers no, and
the run goes on as before. Nothing is sent but the handshake and that
``HEAD /`` without credentials.
"""

from __future__ import annotations

import socket
from typing import Final
from urllib.parse import urlsplit

__all__ = ["PROBE_SECONDS", "plain_http_instead_of_tls"]

PROBE_SECONDS: Final = 2.0
"""The longest each of the two connections may take."""
_HTTPS_PORT: Final = 443


def plain_http_instead_of_tls(endpoint_url: str, timeout: float = PROBE_SECONDS) -> str | None:
    """The ``http://`` URL to use when ``endpoint_url`` is https but its port speaks plain HTTP.

    None when the URL is not https, when TLS works there, or when the port
    does not answer plain HTTP either (down, filtered, another protocol).
    """
    parts = urlsplit(endpoint_url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    address = (parts.hostname, parts.port or _HTTPS_PORT)
    if _speaks_tls(address, timeout):
        return None
    try:
        with socket.create_connection(address, timeout=timeout) as plain:
            plain.sendall(b"HEAD / HTTP/1.0\r\nHost: %s\r\n\r\n" % parts.hostname.encode("idna"))
            answer = plain.recv(5)
    except OSError:
        return None
    return parts._replace(scheme="http").geturl() if answer == b"HTTP/" else None


def _speaks_tls(address: tuple[str, int], timeout: float) -> bool:
    """Whether a TLS handshake completes at ``address``; certificates are not judged here."""
    import ssl  # noqa: PLC0415  # only on this rare path: ssl costs start-up time

    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # any certificate: the question is whether TLS is spoken
    try:
        with (
            socket.create_connection(address, timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=address[0]),
        ):
            return True
    except OSError:  # an SSLError, or the port closed or reset the connection at the handshake
        return False
