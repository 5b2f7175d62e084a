"""A TLS endpoint in front of the plain-HTTP test server, with a throwaway CA made here.

The CA and the server's certificate (for 127.0.0.1 and localhost) come from
the ``openssl`` command and live in the test's directory; no trust store of
the machine is touched. The relay terminates TLS on loopback and passes the
bytes on to the S3 server as they are, so requests reach a real store.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, cast


@dataclass(frozen=True)
class Authority:
    """A throwaway CA and a server certificate it signed."""

    ca: Path
    """The CA certificate: what a client must trust."""
    cert: Path
    key: Path


def make_authority(directory: Path) -> Authority:
    """Make a CA and a certificate for 127.0.0.1 and localhost, valid for two days."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = directory / "ca.pem", directory / "ca.key"
    cert, key, request = directory / "server.pem", directory / "server.key", directory / "req.pem"
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
    )
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_subject = ["-subj", "/CN=s3pput throwaway test CA"]
    ca_extensions = [
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
    ]
    signing = ["-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-extfile", extensions]
    for command in (
        [
            "req",
            "-x509",
            *ec,
            "-keyout",
            ca_key,
            "-out",
            ca,
            "-days",
            "2",
            *ca_subject,
            *ca_extensions,
        ],
        ["req", *ec, "-keyout", key, "-out", request, "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", request, *signing, "-out", cert, "-days", "2"],
    ):
        subprocess.run(["openssl", *map(str, command)], check=True, capture_output=True, timeout=60)
    return Authority(ca=ca, cert=cert, key=key)


class TlsRelay:
    """Accepts TLS on a loopback port and relays the plain bytes to ``target_port``."""

    def __init__(self, target_port: int, authority: Authority) -> None:
        self._target = ("127.0.0.1", target_port)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(authority.cert, authority.key)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = [self._server]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        """The HTTPS endpoint to give a client."""
        return f"https://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        """Finish the handshake (a client that distrusts us ends it), then relay both ways."""
        try:
            client.settimeout(30)
            secure = self._context.wrap_socket(client, server_side=True)
            secure.settimeout(None)
            upstream = socket.create_connection(self._target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [secure, upstream]
        self._relay(secure, upstream)

    @staticmethod
    def _relay(secure: ssl.SSLSocket, upstream: socket.socket) -> None:
        """Pass bytes both ways from one thread: an SSL object must not be used from two."""
        peers: dict[socket.socket, socket.socket] = {secure: upstream, upstream: secure}
        with selectors.DefaultSelector() as selector:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            try:
                while True:
                    for ready, _ in selector.select():
                        source = cast("socket.socket", ready.fileobj)
                        data = source.recv(65536)
                        if not data:
                            return  # one side is done: the connection is over
                        peers[source].sendall(data)
                        while source is secure and secure.pending():
                            upstream.sendall(secure.recv(secure.pending()))
            except (OSError, ValueError):
                return  # a reset, or a socket closed by close()
            finally:
                secure.close()
                upstream.close()

    def close(self) -> None:
        """Stop accepting and close every connection."""
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
