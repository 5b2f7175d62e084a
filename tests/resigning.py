"""A relay that makes the test server a store that knows no additional checksums.

SeaweedFS checks a part's ``x-amz-checksum-*`` header and refuses a damaged
body, as AWS does; older stores (and moto, s3rver) ignore the header, keep
whatever arrived and answer 200 with the ETag of what they kept. A byte relay
cannot play that: the header is signed, so removing it breaks the signature.
The same goes for Content-MD5. This relay parses each request, removes the
checksum headers (Content-MD5 too), may damage the bodies of UploadPart or
PutObject requests, signs the request again with the server's keys and passes
it on; answers come back without checksum headers. The bytes are stored by the
real server, not by a fake.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["ChecksumBlindStore"]

_DROPPED = ("authorization", "x-amz-date", "x-amz-content-sha256", "content-length", "host")
"""Request headers the relay makes again (signature, length, host)."""
_HOP = ("transfer-encoding", "connection", "date", "server")
"""Answer headers the relay's own HTTP server writes."""


class ChecksumBlindStore:
    """A loopback endpoint in front of an S3 server that ignores and hides checksum headers.

    ``damage`` (what, into) replaces bytes in every UploadPart body on the way;
    ``damage_objects`` flips the middle byte of every PutObject body (a PUT
    with a body and no query); ``damaged`` counts the bodies changed and
    ``stripped`` names the checksum headers removed from requests.
    """

    def __init__(
        self,
        target_port: int,
        credentials: tuple[str, str],
        damage: tuple[bytes, bytes] | None = None,
        *,
        damage_objects: bool = False,
    ) -> None:
        self.damaged = 0
        self.stripped: set[str] = set()
        self._damage_objects = damage_objects
        self._lock = threading.Lock()
        relay = self

        class Handler(_Handler):
            store: ClassVar[ChecksumBlindStore] = relay

        self._target_port = target_port
        self._signer = S3SigV4Auth(Credentials(*credentials), "s3", "us-east-1")
        self._damage = damage
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """The endpoint to give a client instead of the server's."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request on to the server, damaged and signed again; its answer."""
        if self._damage is not None and method == "PUT" and "partNumber=" in target:
            what, into = self._damage
            if what in body:
                body = body.replace(what, into)
                with self._lock:
                    self.damaged += 1
        if self._damage_objects and method == "PUT" and "?" not in target and body:
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1 :]
            with self._lock:
                self.damaged += 1
        with self._lock:
            self.stripped.update(name.lower() for name, _ in headers if _is_checksum(name))
        kept = [
            (name, value)
            for name, value in headers
            if name.lower() not in _DROPPED and not _is_checksum(name)
        ]
        request = AWSRequest(
            method=method,
            url=f"http://127.0.0.1:{self._target_port}{target}",
            data=body,
            headers=dict(kept),
        )
        self._signer.add_auth(request)
        connection = http.client.HTTPConnection("127.0.0.1", self._target_port, timeout=120)
        try:
            connection.request(method, target, body=body, headers=dict(request.headers.items()))
            answer = connection.getresponse()
            data = answer.read()
        finally:
            connection.close()
        answered = [
            (name, value)
            for name, value in answer.getheaders()
            if name.lower() not in _HOP and not _is_checksum(name)
        ]
        return answer.status, answered, data


def _is_checksum(name: str) -> bool:
    lower = name.lower()
    return lower.startswith("x-amz-checksum") or lower in {
        "x-amz-sdk-checksum-algorithm",
        "content-md5",
    }


class _Handler(BaseHTTPRequestHandler):
    """One client connection: requests relayed one after another (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    store: ClassVar[ChecksumBlindStore]

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, data = self.store.forward(
            self.command, self.path, list(self.headers.items()), body
        )
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length" or self.command == "HEAD":  # HEAD: the object's
                self.send_header(name, value)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815  # http.server's names

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  # http.server's name
        """Say nothing: a test's output is its own."""
