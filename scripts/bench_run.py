"""Run one measured command, and the delaying proxy, as child processes stopped by PID.

A command runs as ``bash -o pipefail -c CMD`` in its own session, started and
reaped (``os.wait4``) by bench_exec.py: the rusage covers bash and every process
bash waited for (each stage of a pipeline), so user+sys is the whole client's
CPU and ``ru_maxrss`` the largest single process's peak RSS.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from bench_rss import TreeRss

__all__ = ["DelayProxy", "Measurement", "process_cpu_seconds", "run_measured"]

_KILL_GRACE: Final = 3.0
_PROXY_SCRIPT: Final = Path(__file__).with_name("bench_proxy.py")
_EXEC_SCRIPT: Final = Path(__file__).with_name("bench_exec.py")
_CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measurement:
    """What one run of a command cost; ``exit_code`` is None when it timed out."""

    exit_code: int | None
    wall_s: float
    user_s: float
    sys_s: float
    max_rss_mib: float
    tree_rss_mib: float | None = None
    """The peak of the processes' summed RSS, sampled (bench_rss.py); None if not asked."""

    @property
    def cpu_s(self) -> float:
        """User plus system CPU of the whole process tree."""
        return self.user_s + self.sys_s


def process_cpu_seconds(pid: int) -> float:
    """User+system CPU a running process has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


def _kill_group(pgid: int) -> None:
    """SIGTERM the run's process group, then SIGKILL whatever is left after a grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + _KILL_GRACE
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_measured(
    command: str,
    env: dict[str, str],
    log_path: Path,
    timeout: float,
    *,
    sample_tree_rss: bool = False,
) -> Measurement:
    """Run ``command`` under bash (through bench_exec.py) and return its cost.

    bench_exec.py times the command and reaps it with wait4, so neither the
    launcher's start-up nor the benchmark's own memory shows in the numbers.
    A timer thread kills the process group at ``timeout``. Whatever happens, the
    group (its id is the launcher's PID, thanks to ``start_new_session``) is
    killed before returning, so no stage outlives its run.
    """
    timed_out = threading.Event()
    result = log_path.with_suffix(".json")
    result.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", str(_EXEC_SCRIPT), str(result), "--"]
    with log_path.open("ab") as log:
        start = time.monotonic()
        proc = subprocess.Popen(
            [*launcher, "bash", "-o", "pipefail", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def expire() -> None:
        timed_out.set()
        _kill_group(proc.pid)

    timer = threading.Timer(timeout, expire)
    timer.start()
    tree = TreeRss(proc.pid) if sample_tree_rss else None
    try:
        with tree or contextlib.nullcontext():
            proc.wait()
    finally:
        timer.cancel()
        if proc.returncode is None:  # interrupted: stop the run, then reap it
            _kill_group(proc.pid)
            proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # stragglers a stage left behind
    wall = time.monotonic() - start
    if timed_out.is_set() or not result.exists():
        return Measurement(None if timed_out.is_set() else proc.returncode, wall, 0.0, 0.0, 0.0)
    data = json.loads(result.read_text(encoding="utf-8"))
    return Measurement(
        exit_code=data["exit_code"],
        wall_s=data["wall_s"],
        user_s=data["user_s"],
        sys_s=data["sys_s"],
        max_rss_mib=data["max_rss_kib"] / 1024,  # Linux reports KiB
        tree_rss_mib=None if tree is None else tree.peak_mib,
    )


class DelayProxy:
    """The delaying TCP proxy (``bench_proxy.py``) in its own process, so its CPU is its own."""

    def __init__(self, target_port: int, delay_ms: float) -> None:
        self.target_port = target_port
        self.delay_ms = delay_ms
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        """Where clients connect instead of the server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start the proxy and wait for the port it prints once listening."""
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(_PROXY_SCRIPT),
                f"--target-port={self.target_port}",
                f"--delay-ms={self.delay_ms}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.process.stdout is not None  # noqa: S101  # stdout=PIPE above
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"delay proxy did not start (said {line!r})")
        self.port = int(line)
        return self

    def cpu_seconds(self) -> float:
        """User+system CPU the proxy has used so far, from /proc/PID/stat."""
        assert self.process is not None  # noqa: S101  # started
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """Stop the proxy by its PID: SIGTERM, then SIGKILL if it lingers."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_KILL_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
