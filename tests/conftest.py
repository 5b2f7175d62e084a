"""Shared fixtures: one real SeaweedFS S3 server per test session, a fresh bucket per test.

Every tier sees them: tests/unit (pure code, no server, no process of ours),
tests/integration (a real server, in process) and tests/e2e (the commands as
real processes and pipes). A unit test that would start a server is refused.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from stores import MotoServer, S3rverServer

from s3pput.sandbox.local_s3 import LocalS3

BIN = Path(sys.executable).parent

UNIT = Path(__file__).resolve().parent / "unit"
"""The tier that runs in seconds with no server: ``make test-unit``."""

SERVERS = frozenset({"s3_server", "moto_server", "s3rver_server"})
"""Fixtures that start a server (``s3``, ``bucket``, ``tap``... need one of them)."""


def servers_used(item: pytest.Item) -> list[str]:
    """The server fixtures a test needs, itself or through the fixtures it uses."""
    return sorted(SERVERS.intersection(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a unit test that would start a server, before any test runs."""
    refused = [
        f"  {item.nodeid} uses {', '.join(servers_used(item))}"
        for item in items
        if item.path.resolve().is_relative_to(UNIT) and servers_used(item)
    ]
    if refused:
        raise pytest.UsageError(
            "a unit test may not start a server (move it to tests/integration or tests/e2e):\n"
            + "\n".join(refused)
        )


@pytest.fixture(name="s3_server", scope="session")
def fixture_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """A real S3 server on loopback, started once and stopped by PID at the end."""
    server = LocalS3(workdir=tmp_path_factory.mktemp("seaweedfs"))
    with server:
        yield server


@pytest.fixture(name="moto_server", scope="session")
def fixture_moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """Moto's S3 server on loopback (for the compatibility matrix), stopped by PID at the end."""
    with MotoServer(workdir=tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(name="s3rver_server", scope="session")
def fixture_s3rver_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3rverServer]:
    """s3rver on loopback (for the compatibility matrix), stopped by PID at the end."""
    with S3rverServer(workdir=tmp_path_factory.mktemp("s3rver")) as server:
        yield server


@pytest.fixture(name="s3_env")
def fixture_s3_env(
    s3_server: LocalS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Point boto3 (in this process and in subprocesses) at the test server only.

    The checksum cache goes to the test's own directory, never the user's.
    """
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(name="s3")
def fixture_s3(s3_server: LocalS3) -> Any:
    """An admin boto3 client for checking what landed in the bucket."""
    return s3_server.client()


@pytest.fixture(name="bucket")
def fixture_bucket(
    s3: Any,
    s3_server: LocalS3,
    s3_env: dict[str, str],  # noqa: ARG001  # s3_env sets the environment
) -> Iterator[str]:
    """A new, empty bucket for one test; its volume is freed when the test ends.

    Each bucket is a SeaweedFS collection with a volume of its own, and the
    server holds a bounded number of volumes: a suite that kept them all failed
    its last hundred tests with 500s.
    """
    name = f"test-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=name)
    yield name
    if s3_server.process is not None:  # a test may leave the server stopped
        s3_server.drop_bucket_data(name)


REQUEST_LINE = re.compile(rb"((?:GET|PUT|POST|DELETE|HEAD) /[^ \r\n]* HTTP/1\.1)\r\n")
"""A request line. On a kept-alive connection it follows the last body directly; a random
body matching it (these words, a path without spaces, then exactly " HTTP/1.1\r\n") is
as good as impossible."""

TAIL = 4096
"""Bytes of one read kept to find a request line that the next read completes."""

HOLD_SECONDS = 0.05
"""How long a relay holds back what may be the start of a marker before it lets it go."""


class Tap:
    """A loopback TCP relay to the S3 server that keeps a copy of what clients send.

    It lets a test see the real request headers on the wire (plain HTTP on
    loopback) without replacing anything on the data path.
    """

    def __init__(
        self,
        target_port: int,
        corrupt: tuple[bytes, bytes] | None = None,
        *,
        keep: bool = True,
        delay: float = 0.0,
    ) -> None:
        self._target = ("127.0.0.1", target_port)
        self._corrupt = corrupt
        """(what, into): replace ``what`` in what clients send, to damage a body in flight."""
        self.corrupted = 0
        """How many times ``what`` was replaced."""
        self._keep = keep
        """Keep a copy of what clients send (off for large uploads: see ``requests``)."""
        self._delay = delay
        """Seconds to wait before passing on each read from a client: a slow link."""
        self.requests: list[bytes] = []
        """The request line of every request clients sent (HTTP/1.1, one per connection turn)."""
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._sent = bytearray()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = [self._server]
        self._start(self._accept)

    @property
    def url(self) -> str:
        """The endpoint to give a client instead of the server's."""
        return f"http://127.0.0.1:{self.port}"

    def sent(self) -> bytes:
        """Everything clients sent so far."""
        with self._lock:
            return bytes(self._sent)

    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            self._start(self._pipe, client, upstream, self._sent)
            self._start(self._pipe, upstream, client, None)

    def _pipe(self, source: socket.socket, target: socket.socket, copy: bytearray | None) -> None:
        held = b""  # the end of the last read, when it may be the start of the marker
        tail = b""  # the end of the last read, where a request line may have begun
        try:
            while True:
                source.settimeout(HOLD_SECONDS if held else None)
                try:
                    data = source.recv(65536)
                except TimeoutError:
                    data = b""  # nothing more is coming for now: let the held bytes go
                    if not held:
                        continue
                else:
                    if not data:
                        break
                    if copy is not None:
                        tail = self._note(data, tail, copy)
                if copy is None:  # the server's answers pass as they are
                    pass
                elif data:
                    data, held = self._damage(held + data)
                else:
                    data, held = held, b""
                target.sendall(data)
            target.sendall(held)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def _note(self, data: bytes, tail: bytes, copy: bytearray) -> bytes:
        """Keep what a client sent (if asked), note its request lines, slow it down.

        Returns the new tail: a request line cut in two by the reads is
        found in the tail joined to the next read.
        """
        seen = tail + data
        lines = [m.group(1) for m in REQUEST_LINE.finditer(seen) if m.end() > len(tail)]
        with self._lock:
            if self._keep:
                copy += data
            self.requests += lines
        if self._delay:
            time.sleep(self._delay)
        return seen[-TAIL:]

    def _damage(self, data: bytes) -> tuple[bytes, bytes]:
        """(what to send now, what to hold back): the marker replaced, even across two reads."""
        if self._corrupt is None:
            return data, b""
        what, into = self._corrupt
        with self._lock:
            self.corrupted += data.count(what)
        data = data.replace(what, into)
        for keep in range(min(len(what) - 1, len(data)), 0, -1):
            if what.startswith(data[-keep:]):
                return data[:-keep], data[-keep:]
        return data, b""

    def close(self) -> None:
        """Stop accepting and close every connection."""
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture(name="tap")
def fixture_tap(s3_server: LocalS3) -> Iterator[Tap]:
    """A relay in front of the S3 server that records the bytes clients send."""
    tap = Tap(s3_server.s3_port)
    yield tap
    tap.close()
