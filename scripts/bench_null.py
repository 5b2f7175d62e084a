"""A null S3 endpoint: nginx with a generated config, started and stopped by PID.

``make bench-client`` measures the client alone, so the store must cost (almost)
nothing: nginx answers every request from bench_null_s3.js (njs) without
keeping a byte. It answers honestly enough for every client's checks (a PUT's
ETag is the MD5 of the body it got; see the script). Its access log is the
store's memory: ``listing(bucket, prefix)`` reads the objects it was sent
under a prefix and their sizes, so a run that claims success but sent
nothing fails bench_verify's check.

nginx runs in the foreground (``daemon off``) with a master and worker
processes, everything (config, pid, temp paths, logs) in a temporary
directory, on a free loopback port; ``stop`` signals the master by its PID.
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
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from bench_run import process_cpu_seconds
from bench_verify import Listing

__all__ = ["NullS3", "nginx_binary"]

_SCRIPT: Final = Path(__file__).with_name("bench_null_s3.js")
_MODULE: Final = "ngx_http_js_module.so"
_START_TIMEOUT: Final = 10.0
_STOP_GRACE: Final = 5.0
_BODY_BUFFER: Final = "64m"
"""Bodies up to this stay in memory, where njs can hash them; a larger one is refused (413).
Enough for the small files here and the 8 MiB parts s3pput sends."""

_CONFIG: Final = """\
load_module {module};
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    js_import s3 from {script};
    log_format s3 '$request_method $status $received $arg_uploadId $uri';
    access_log {root}/access.log s3;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size {body_buffer};
    client_body_buffer_size {body_buffer};
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port} reuseport;
        location / {{
            js_var $received -;
            js_content s3.handle;
        }}
    }}
}}
"""


def nginx_binary() -> Path | None:
    """The nginx on PATH or where Debian puts it, or None (scripts/system-deps.sh --bench)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    return Path(found) if found else None


def _module_path(nginx: Path) -> Path:
    """The njs module, in the modules directory nginx was built with (Debian's by default)."""
    done = subprocess.run([str(nginx), "-V"], capture_output=True, text=True, check=False)
    for word in done.stderr.split():
        if word.startswith("--modules-path="):
            return Path(word.split("=", 1)[1]) / _MODULE
    return Path("/usr/lib/nginx/modules") / _MODULE


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class NullS3:
    """nginx as a store that keeps nothing; a context manager that stops it however the run ends."""

    def __init__(self, nginx: Path, workers: int | str = "auto") -> None:
        self.nginx = nginx
        self.workers = workers
        self.port = 0
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """Where clients send their requests."""
        return f"http://127.0.0.1:{self.port}"

    def version(self) -> str:
        """The version line nginx prints, for the report."""
        done = subprocess.run([str(self.nginx), "-v"], capture_output=True, text=True, check=False)
        return (done.stderr or done.stdout).strip()

    def start(self) -> Self:
        """Write the config, start nginx in the foreground, and wait until the port answers."""
        module = _module_path(self.nginx)
        if not module.exists():
            raise RuntimeError(f"{module} is missing (scripts/system-deps.sh --bench)")
        self.root = Path(tempfile.mkdtemp(prefix="s3pput-null-s3-"))
        self.port = _free_port()
        config = self.root / "nginx.conf"
        config.write_text(
            _CONFIG.format(
                module=module,
                workers=self.workers,
                root=self.root,
                script=_SCRIPT,
                body_buffer=_BODY_BUFFER,
                port=self.port,
            ),
            encoding="utf-8",
        )
        self.process = subprocess.Popen(
            [str(self.nginx), "-p", str(self.root), "-c", str(config), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "stderr.log").open("wb"),
            start_new_session=True,
        )
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        assert self.process is not None  # noqa: S101  # started
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1),
            ):
                return
            time.sleep(0.05)
        said = self._stderr()
        self.stop()
        raise RuntimeError(f"nginx did not start: {said}")

    def _stderr(self) -> str:
        if self.root is None:
            return ""
        texts = [
            (self.root / name).read_text(errors="replace")
            for name in ("stderr.log", "error.log")
            if (self.root / name).exists()
        ]
        return " | ".join(t.strip() for t in texts if t.strip())[-600:]

    def worker_pids(self) -> list[int]:
        """The master's children (its workers), from /proc."""
        assert self.process is not None  # noqa: S101  # started
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in children.read_text().split()] if children.exists() else []

    def cpu_seconds(self) -> float:
        """User+system CPU of the master and its workers so far."""
        assert self.process is not None  # noqa: S101  # started
        pids = [self.process.pid, *self.worker_pids()]
        return sum(process_cpu_seconds(pid) for pid in pids)

    def listing(self, bucket: str, prefix: str) -> Listing:
        """What the store would hold under ``prefix/``, from its access log; bench_verify's shape.

        An object is a key a PutObject or a completed multipart upload was
        answered 2xx for; sent twice, it is there once, with its last size (a
        multipart object's is the sum of its parts). Sizes are the bytes the
        script hashed, not what a header claimed.
        """
        assert self.root is not None  # noqa: S101  # started
        start = f"/{bucket}/{prefix.strip('/')}/"
        stored: dict[str, int] = {}
        parts: dict[str, int] = {}
        with (self.root / "access.log").open(encoding="utf-8", errors="replace") as log:
            for line in log:
                method, status, length, upload_id, uri = line.rstrip("\n").split(" ", 4)
                if not uri.startswith(start) or not status.startswith("2"):
                    continue
                size = int(length) if length.isdigit() else 0
                if method == "PUT" and upload_id == "-":
                    stored[uri] = size
                elif method == "PUT":  # a part (PUT ?partNumber&uploadId)
                    parts[upload_id] = parts.get(upload_id, 0) + size
                elif method == "POST" and upload_id != "-":  # a completion (POST ?uploadId)
                    stored[uri] = parts.pop(upload_id, 0)
        return {uri.removeprefix(f"/{bucket}/"): (size, "") for uri, size in stored.items()}

    def stop(self) -> None:
        """SIGQUIT the master by its PID (graceful), SIGKILL its group if it lingers."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGQUIT)  # nginx's graceful shutdown
                try:
                    self.process.wait(timeout=_STOP_GRACE)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)  # its own session: master, workers
                    self.process.wait()
            self.process = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
