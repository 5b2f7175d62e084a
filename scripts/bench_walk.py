"""How fast walk streams a big tree, and in how much memory: s3pput-walk against find.

Issue #6 asks that walk keeps memory flat (under 100 MB at 100k and 1M
files) and is at least as fast as ``find -type f`` on the same tree. This
builds trees of the asked sizes (1,000 files a directory, empty files: the
walk reads names and inodes, not bytes), then runs each command in turn for
a few rounds (the order rotating), writing everything to /dev/null, and
reports medians of wall time, files/s and peak RSS to ``--report``.

    python scripts/bench_walk.py --venv .venv --files 100000 1000000

``find -type f`` reads names and the type the listing gives, no stat; walk
stats each file for its size and mtime, as ``find -printf '%s %T@'`` does.
``--no-stat`` is the walk that does what ``find -type f`` does.

With ``--fuse-python PY`` it also walks a tree through a FUSE file system
that waits ``--fuse-delay`` seconds on every getattr and readdir, as a
network file system waits for its server, mounted afresh for every run so
no run finds another's cache, and unmounted at the end whatever happens.
That shows what ``--walk-threads`` is for. It needs fusermount and a Python
with fusepy (run as root, or with access to /dev/fuse)::

    apt-get install fuse libfuse2
    python3 -m venv /tmp/fusepy && /tmp/fusepy/bin/pip install fusepy
    python scripts/bench_walk.py --files 100000 --fuse-python /tmp/fusepy/bin/python

The FUSE server is this script run by that Python (``serve-latencyfs``). It
is libfuse 2, which serialises lookups within one directory, as some FUSE
file systems do; the walk's threads spread over directories for that reason.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from bench_run import Measurement, run_measured

PER_DIRECTORY: Final = 1000
LIMIT_MIB: Final = 100
FIND: Final = {
    "find -type f": "find {src} -type f > /dev/null",
    "find -printf (name, size, mtime)": "find {src} -type f -printf '%p %s %T@\\n' > /dev/null",
}
WALK: Final = "s3pput-walk"
_MOUNT_WAIT: Final = 10.0


def commands(threads: list[int]) -> dict[str, str]:
    """The rows: find both ways, walk with one thread and with each of ``threads``, --no-stat."""
    rows = dict(FIND)
    rows[WALK] = "{walk} {src} > /dev/null"
    for count in threads:
        rows[f"{WALK} --walk-threads {count}"] = (
            f"{{walk}} --walk-threads {count} {{src}} > /dev/null"
        )
    rows[f"{WALK} --no-stat"] = "{walk} --no-stat {src} > /dev/null"
    return rows


def build_tree(root: Path, files: int) -> None:
    """``files`` empty files, PER_DIRECTORY to a directory, two levels deep."""
    for n in range(files):
        directory = root / f"a{n // (PER_DIRECTORY * 100)}" / f"b{n // PER_DIRECTORY}"
        if n % PER_DIRECTORY == 0:
            directory.mkdir(parents=True, exist_ok=True)
        os.close(os.open(directory / f"f{n}.dat", os.O_CREAT | os.O_WRONLY, 0o644))


def report(title: str, results: dict[int, dict[str, list[Measurement]]]) -> str:
    """The Markdown table of medians (min-max in brackets) per tree size and command."""
    lines = [
        f"# {title} (medians; min-max in brackets)",
        "",
        "| files | command | wall s | files/s | peak RSS MiB | walk under 100 MB? |",
        "|---|---|---|---|---|---|",
    ]
    for files, runs in results.items():
        for name, measured in runs.items():
            walls = [m.wall_s for m in measured]
            rss = [m.max_rss_mib for m in measured]
            wall = statistics.median(walls)
            walk = name.startswith(WALK)
            verdict = ("yes" if max(rss) < LIMIT_MIB else "NO") if walk else ""
            lines.append(
                f"| {files:,} | {name} | {wall:.2f} [{min(walls):.2f}-{max(walls):.2f}] "
                f"| {files / wall:,.0f} | {statistics.median(rss):.1f} "
                f"[{min(rss):.1f}-{max(rss):.1f}] | {verdict} |"
            )
    return "\n".join(lines) + "\n"


def measure(
    rows: dict[str, str], rounds: int, run: Callable[[str, str], Measurement | None]
) -> dict[str, list[Measurement]] | None:
    """Run every row ``rounds`` times, the order rotating; None if one fails."""
    runs: dict[str, list[Measurement]] = {name: [] for name in rows}
    for round_ in range(rounds):
        names = list(rows)
        names = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in names:
            measured = run(name, rows[name])
            if measured is None:
                return None
            runs[name].append(measured)
    return runs


def main() -> int:
    """Build the trees, walk them, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=".venv", type=Path)
    parser.add_argument("--files", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--walk-threads", nargs="*", type=int, default=[2, 8], help="thread counts for rows"
    )
    parser.add_argument("--report", default="bench-results/walk.md", type=Path)
    parser.add_argument("--fuse-python", type=Path, help="a Python with fusepy: add FUSE rows")
    parser.add_argument("--fuse-files", type=int, default=20_000)
    parser.add_argument("--fuse-delay", type=float, default=0.001, help="seconds per operation")
    args = parser.parse_args()
    walk = (args.venv / "bin" / WALK).resolve()
    rows = commands(args.walk_threads)
    work = Path(tempfile.mkdtemp(prefix="s3pput-bench-walk-"))
    log = work / "log.txt"
    text = ""
    try:
        results: dict[int, dict[str, list[Measurement]]] = {}
        for files in args.files:
            src = work / f"tree-{files}"
            build_tree(src, files)

            def local(
                name: str, command: str, src: Path = src, n: int = files
            ) -> Measurement | None:
                measured = run_measured(
                    command.format(src=src, walk=walk), {**os.environ}, log, 900
                )
                return _shown(n, name, measured, log)

            runs = measure(rows, args.rounds, local)
            if runs is None:
                return 1
            results[files] = runs
            shutil.rmtree(src)
        text = report(f"Walking a tree, {args.rounds} rounds", results)
        if args.fuse_python is not None:
            fused = _fuse_results(args, rows, walk, work)
            if fused is None:
                return 1
            delay_ms = args.fuse_delay * 1000
            title = f"Walking FUSE that waits {delay_ms:g} ms per getattr and readdir"
            text += "\n" + report(f"{title}, {args.rounds} rounds", fused)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text)
    print(text)
    return 0


def _shown(files: int, name: str, measured: Measurement, log: Path) -> Measurement | None:
    """Print one run as it ends; None (and where to look) if it failed."""
    if measured.exit_code != 0:
        print(f"{name} failed on {files} files; see {log}")
        return None
    print(f"{files:>9,} {name:<45} {measured.wall_s:7.2f} s "
          f"{measured.max_rss_mib:6.1f} MiB", flush=True)  # fmt: skip
    return measured


def _fuse_results(
    args: argparse.Namespace, rows: dict[str, str], walk: Path, work: Path
) -> dict[int, dict[str, list[Measurement]]] | None:
    """Every row on the FUSE mount of a tree of ``--fuse-files``, mounted afresh per run."""
    backing, mount, log = work / "fuse-tree", work / "fuse-mount", work / "fuse-log.txt"
    build_tree(backing, args.fuse_files)
    mount.mkdir()

    def fused(name: str, command: str) -> Measurement | None:
        with _mounted(args.fuse_python, backing, mount, args.fuse_delay, log):
            measured = run_measured(
                command.format(src=mount, walk=walk), dict(os.environ), log, 900
            )
        return _shown(args.fuse_files, name, measured, log)

    runs = measure(rows, args.rounds, fused)
    return None if runs is None else {args.fuse_files: runs}


@contextlib.contextmanager
def _mounted(python: Path, backing: Path, mount: Path, delay: float, log: Path) -> Iterator[None]:
    """Serve ``backing`` on ``mount`` with ``delay`` per operation; unmount and stop at the end."""
    with log.open("ab") as output:
        server = subprocess.Popen(
            [python, __file__, "serve-latencyfs", str(backing), str(mount), str(delay)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + _MOUNT_WAIT
        while not os.path.ismount(mount):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the FUSE server did not mount {mount}; see {log}")
            time.sleep(0.05)
        yield
    finally:
        _unmount(mount)
        try:
            server.wait(timeout=_MOUNT_WAIT)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _unmount(mount: Path) -> None:
    """Unmount, lazily if the mount is still busy; never leave it behind."""
    if not os.path.ismount(mount):
        return
    done = subprocess.run(["fusermount", "-u", str(mount)], capture_output=True, check=False)
    if done.returncode != 0 and os.path.ismount(mount):
        subprocess.run(["fusermount", "-uz", str(mount)], capture_output=True, check=False)


class LatencyFS:
    """A read-only passthrough of ``root`` that sleeps ``delay`` on getattr and readdir.

    fusepy calls the object with the operation's name; an OSError becomes
    the errno the kernel sees. The listing gives each entry's type, as NFS
    and local file systems do, so ``find -type f`` needs no stat. The bench
    tree has no symlinks, so there is no readlink.
    """

    def __init__(self, root: str, delay: float) -> None:
        self.root = root
        self.delay = delay

    def __call__(self, op: str, *args: object) -> object:
        """Run operation ``op``; those not defined here fail with ENOSYS."""
        method = getattr(self, op, None)
        if method is None:
            raise OSError(errno.ENOSYS, op)
        return method(*args)

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:  # noqa: ARG002  # fusepy's signature
        """Stat the backing file, after the delay."""
        time.sleep(self.delay)
        result = os.lstat(self.root + path)
        fields = ("st_mode", "st_size", "st_mtime", "st_atime", "st_ctime", "st_nlink", "st_ino")
        return {name: getattr(result, name) for name in fields}

    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int] | None, int]]:  # noqa: ARG002  # fusepy's signature
        """List the backing directory with each entry's type, after the delay."""
        time.sleep(self.delay)
        entries: list[tuple[str, dict[str, int] | None, int]] = [(".", None, 0), ("..", None, 0)]
        with os.scandir(self.root + path) as listing:
            for entry in listing:
                mode = entry.stat(follow_symlinks=False).st_mode & 0o170000
                entries.append((entry.name, {"st_mode": mode}, 0))
        return entries


def serve(backing: str, mount: str, delay: float) -> int:
    """Run the FUSE server in the foreground until unmounted (needs fusepy)."""
    fuse = importlib.import_module("fuse")
    fuse.FUSE(
        LatencyFS(os.path.realpath(backing), delay),
        mount,
        foreground=True,
        nothreads=False,
        ro=True,
        entry_timeout=60,
        attr_timeout=60,
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve-latencyfs"]:
        sys.exit(serve(sys.argv[2], sys.argv[3], float(sys.argv[4])))
    sys.exit(main())
