"""Other S3 implementations as real servers on loopback: moto's server and s3rver.

Users meet more stores than SeaweedFS, and each answers a little
differently (an XML namespace, an ignored ``encoding-type``, an operation
missing). The compatibility matrix (test_compat.py) runs the same pipelines
against each of them, reached over HTTP like any store: never in-process.

``make test`` installs both where these classes look for them: moto's server
in a virtual environment of its own (``.venv-moto``, so it cannot change the
project's dependencies) and s3rver with npm into ``.compat/node_modules``;
``make compat-stores`` installs them alone. Each server gets a free port on
127.0.0.1 and a throwaway directory, and is stopped by PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Final, Self

ROOT: Final = Path(__file__).resolve().parent.parent
READY_TIMEOUT: Final = 60.0
STOP_GRACE: Final = 5.0
START_TRIES: Final = 3
"""A free port may be taken by someone else before the server binds it: try another."""


class StoreError(RuntimeError):
    """A store could not be found or started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (any status is an answer)."""
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310  # loopback http
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class ServedStore:
    """One S3 server process on 127.0.0.1: started, waited for, stopped by PID."""

    name: ClassVar[str] = "store"
    install_hint: ClassVar[str] = "make compat-stores"
    access_key: ClassVar[str] = "AKCOMPATTEST"
    secret_key: ClassVar[str] = "compat-test-secret"  # noqa: S105  # a throwaway local server's key
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="s3pput-store-")))
    s3_port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, plain HTTP on loopback."""
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def log(self) -> Path:
        """Where the server's own output goes."""
        return self.workdir / f"{self.name}.log"

    def command(self, port: int) -> list[str]:
        """The server's argv, listening on 127.0.0.1:``port`` only."""
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """The server process's environment."""
        return dict(os.environ)

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 and s3pput at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def client(self, endpoint_url: str | None = None) -> Any:
        """A boto3 client with this server's keys (to make buckets, or check what landed)."""
        import boto3  # noqa: PLC0415  # only callers that talk to the server need it

        return boto3.client(
            "s3",
            endpoint_url=endpoint_url or self.endpoint_url,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
        )

    def start(self) -> Self:
        """Start the server; return once it answers HTTP."""
        for _ in range(START_TRIES):
            self.s3_port = free_port()
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(  # our own argv, no shell
                    self.command(self.s3_port),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.workdir,
                    env=self.environment(),
                    start_new_session=True,
                )
            if self._wait_ready():
                return self
        self.stop()
        raise StoreError(f"{self.name} did not start; see {self.log}")

    def _wait_ready(self) -> bool:
        """Wait until it answers (True), or it exited, as it does when the port was taken."""
        assert self.process is not None  # set by start()
        deadline = time.monotonic() + READY_TIMEOUT
        while not answers(self.endpoint_url):
            if self.process.poll() is not None:
                return False
            if time.monotonic() > deadline:
                self.stop()
                raise StoreError(f"{self.name} did not answer in {READY_TIMEOUT:.0f}s; {self.log}")
            time.sleep(0.1)
        return True

    def stop(self) -> None:
        """Stop the server by PID: SIGTERM, then SIGKILL if it lingers; remove its files."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _installed(variable: str, default: Path, what: str) -> Path:
    """The installed program: ``$variable`` if set, else where make puts it."""
    path = Path(os.environ.get(variable) or default)
    if not path.exists():
        raise StoreError(f"{what} is not installed at {path}: run `make compat-stores`")
    return path


@dataclass
class MotoServer(ServedStore):
    """moto's standalone server (``moto_server``), from its own virtual environment.

    It takes any access key and checks no signature.
    """

    name: ClassVar[str] = "moto"

    def command(self, port: int) -> list[str]:
        """``moto_server -H 127.0.0.1 -p PORT`` (options read in moto/server.py)."""
        program = _installed(
            "S3PPUT_MOTO_SERVER", ROOT / ".venv-moto" / "bin" / "moto_server", "moto's server"
        )
        return [str(program), "-H", "127.0.0.1", "-p", str(port)]


@dataclass
class S3rverServer(ServedStore):
    """s3rver (node), installed by npm; its one account is S3RVER / S3RVER, signatures checked."""

    name: ClassVar[str] = "s3rver"
    access_key: ClassVar[str] = "S3RVER"
    secret_key: ClassVar[str] = "S3RVER"  # noqa: S105  # s3rver's fixed built-in account

    def command(self, port: int) -> list[str]:
        """``node s3rver.js -d DIR -a 127.0.0.1 -p PORT`` (options in its bin/s3rver.js)."""
        script = _installed(
            "S3PPUT_S3RVER",
            ROOT / ".compat" / "node_modules" / "s3rver" / "bin" / "s3rver.js",
            "s3rver",
        )
        node = shutil.which("node")
        if node is None:
            raise StoreError("node is not installed (s3rver needs it): make compat-stores")
        data = self.workdir / "data"
        return [node, str(script), "-d", str(data), "-a", "127.0.0.1", "-p", str(port)]

    def environment(self) -> dict[str, str]:
        """Node's legacy OpenSSL provider: s3rver's continuation tokens use DES.

        Without it, any listing of more than one page fails with 500 on OpenSSL 3.
        """
        return {**os.environ, "NODE_OPTIONS": "--openssl-legacy-provider"}
