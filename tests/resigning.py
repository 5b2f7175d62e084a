"""A relay that plays a store which checks nothing: it strips checksums, damages bodies, re-signs.

Stores such as moto's server or s3rver accept a PUT whose body was damaged on
the way when they do not check the checksum header they were sent. SeaweedFS
does check it, and checks the SigV4 signature over every signed header, so a
byte relay cannot simply rename a header. This one parses each request (HTTP/1.1,
Content-Length bodies, as the native client sends them), and for a PutObject
(a PUT with a body and no query) drops ``Content-MD5``, ``x-amz-checksum-*``
and ``x-amz-sdk-checksum-algorithm``, flips one byte in the middle of the body,
and signs the request again with the server's keys. Everything else, and
every answer, passes as it is.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import socket
import threading
from typing import Final

__all__ = ["CheckNothingRelay"]

_HEAD_END: Final = b"\r\n\r\n"
_AUTH: Final = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<scope>[^,]+), "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=[0-9a-f]+"
)
_STRIPPED: Final = re.compile(r"^(content-md5|x-amz-checksum-.*|x-amz-sdk-checksum-algorithm)$")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def sign(
    method: str, target: str, headers: list[tuple[str, str]], secret_key: str
) -> list[tuple[str, str]]:
    """``headers`` with a fresh SigV4 Authorization over the headers still present.

    The scope, date and payload hash are the original request's; only the
    list of signed headers shrinks to those left. No query string (PutObject).
    """
    lowered = {name.lower(): value.strip() for name, value in headers}
    match = _AUTH.fullmatch(lowered["authorization"])
    if match is None:
        raise ValueError(f"not a SigV4 header: {lowered['authorization']}")
    signed = [name for name in match["signed"].split(";") if name in lowered]
    canonical = "\n".join(
        [
            method,
            target,
            "",
            *(f"{name}:{lowered[name]}" for name in signed),
            "",
            ";".join(signed),
            lowered["x-amz-content-sha256"],
        ]
    )
    scope = match["scope"]
    date, region, service, _ = scope.split("/")
    to_sign = "\n".join(
        [
            "AWS4-HMAC-SHA256",
            lowered["x-amz-date"],
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )
    key = _hmac(f"AWS4{secret_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={match['key']}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return [
        (name, authorization if name.lower() == "authorization" else value)
        for name, value in headers
    ]


class CheckNothingRelay:
    """Loopback relay to an S3 server that damages every PutObject body it can re-sign."""

    def __init__(self, target_port: int, secret_key: str) -> None:
        self._target = ("127.0.0.1", target_port)
        self._secret_key = secret_key
        self.damaged = 0
        """PutObject bodies damaged (and their checksum headers dropped)."""
        self.stripped: set[str] = set()
        """The names of the checksum headers dropped."""
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._sockets: list[socket.socket] = [self._server]
        self.port: int = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The endpoint to give a client instead of the server's."""
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            threading.Thread(target=self._requests, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._answers, args=(upstream, client), daemon=True).start()

    def _requests(self, client: socket.socket, upstream: socket.socket) -> None:
        buffered = b""
        try:
            while True:
                while _HEAD_END not in buffered:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffered += data
                head, buffered = buffered.split(_HEAD_END, 1)
                start, *lines = head.decode("latin-1").split("\r\n")
                headers = [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines)]
                length = int({n.lower(): v for n, v in headers}.get("content-length", "0"))
                while len(buffered) < length:
                    data = client.recv(65536)
                    if not data:
                        return
                    buffered += data
                body, buffered = buffered[:length], buffered[length:]
                start, headers, body = self._rewrite(start, headers, body)
                raw = "\r\n".join([start, *(f"{n}: {v}" for n, v in headers)]).encode("latin-1")
                upstream.sendall(raw + _HEAD_END + body)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)

    def _rewrite(
        self, start: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        method, target, _ = start.split(" ", 2)
        if method != "PUT" or "?" in target or not body:
            return start, headers, body
        kept = [(n, v) for n, v in headers if not _STRIPPED.match(n.lower())]
        with self._lock:
            self.stripped.update(n.lower() for n, _ in headers if _STRIPPED.match(n.lower()))
            self.damaged += 1
        middle = len(body) // 2
        body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
        return start, sign(method, target, kept, self._secret_key), body

    @staticmethod
    def _answers(upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop accepting and close every connection."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
