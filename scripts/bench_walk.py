"""How fast walk streams a big tree, and in how much memory: s3pput-walk against find.

Issue #6 asks that walk keeps memory flat (under 100 MB at 100k and 1M
files) and is at least as fast as ``find -type f`` on the same tree. This
builds trees of the asked sizes (1,000 files a directory, empty files: the
walk reads names and inodes, not bytes), then runs each command in turn for
a few rounds (the order rotating), writing everything to /dev/null, and
reports medians of wall time, files/s and peak RSS to ``--report``.

    python scripts/bench_walk.py --venv .venv --files 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Final

from bench_run import Measurement, run_measured

PER_DIRECTORY: Final = 1000
LIMIT_MIB: Final = 100
COMMANDS: Final = {
    "find -type f": "find {src} -type f > /dev/null",
    "find -printf (name, size, mtime)": "find {src} -type f -printf '%p %s %T@\\n' > /dev/null",
    "s3pput-walk": "{walk} {src} > /dev/null",
}


def build_tree(root: Path, files: int) -> None:
    """``files`` empty files, PER_DIRECTORY to a directory, two levels deep."""
    for n in range(files):
        directory = root / f"a{n // (PER_DIRECTORY * 100)}" / f"b{n // PER_DIRECTORY}"
        if n % PER_DIRECTORY == 0:
            directory.mkdir(parents=True, exist_ok=True)
        os.close(os.open(directory / f"f{n}.dat", os.O_CREAT | os.O_WRONLY, 0o644))


def report(results: dict[int, dict[str, list[Measurement]]], rounds: int) -> str:
    """The Markdown table of medians (min-max in brackets) per tree size and command."""
    lines = [
        f"# Walking a tree, {rounds} rounds (medians; min-max in brackets)",
        "",
        "| files | command | wall s | files/s | peak RSS MiB | walk under 100 MB? |",
        "|---|---|---|---|---|---|",
    ]
    for files, runs in results.items():
        for name, measured in runs.items():
            walls = [m.wall_s for m in measured]
            rss = [m.max_rss_mib for m in measured]
            wall = statistics.median(walls)
            verdict = ("yes" if max(rss) < LIMIT_MIB else "NO") if name == "s3pput-walk" else ""
            lines.append(
                f"| {files:,} | {name} | {wall:.2f} [{min(walls):.2f}-{max(walls):.2f}] "
                f"| {files / wall:,.0f} | {statistics.median(rss):.1f} "
                f"[{min(rss):.1f}-{max(rss):.1f}] | {verdict} |"
            )
    return "\n".join(lines) + "\n"


def main() -> int:
    """Build the trees, walk them, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=".venv", type=Path)
    parser.add_argument("--files", nargs="+", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report", default="bench-results/walk.md", type=Path)
    args = parser.parse_args()
    walk = (args.venv / "bin" / "s3pput-walk").resolve()
    work = Path(tempfile.mkdtemp(prefix="s3pput-bench-walk-"))
    results: dict[int, dict[str, list[Measurement]]] = {}
    try:
        for files in args.files:
            src = work / f"tree-{files}"
            build_tree(src, files)
            runs: dict[str, list[Measurement]] = {name: [] for name in COMMANDS}
            for round_ in range(args.rounds):
                names = list(COMMANDS)
                names = names[round_ % len(names) :] + names[: round_ % len(names)]
                for name in names:
                    command = COMMANDS[name].format(src=src, walk=walk)
                    measured = run_measured(command, dict(os.environ), work / "log.txt", 900)
                    if measured.exit_code != 0:
                        print(f"{name} failed on {files} files; see {work}/log.txt")
                        return 1
                    runs[name].append(measured)
                    print(f"{files:>9,} {name:<45} {measured.wall_s:7.2f} s "
                          f"{measured.max_rss_mib:6.1f} MiB", flush=True)  # fmt: skip
            results[files] = runs
            shutil.rmtree(src)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report(results, args.rounds))
    print(args.report.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
