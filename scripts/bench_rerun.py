"""The second run over many unchanged files: time and requests, s3pput against s5cmd sync.

Issue #6 asks that a second run over N unchanged files makes about N/1,000
list requests, not N HEADs. This starts a local SeaweedFS, writes N small
files (1,000 a directory), uploads them once with each tool (untimed), then
times each tool's skip-unchanged command for a few rounds (the order
rotating, straight to the server), and runs it once more through a relay
that counts the HTTP requests by method. A report goes to ``--report``.

    python scripts/bench_rerun.py --venv .venv --bench-venv .venv-bench --files 100000
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Final

from bench_run import Measurement, run_measured
from bench_tools import Binaries, fill, tool_env, tools

from s3pput.sandbox.local_s3 import LocalS3

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from faultproxy import FaultProxy  # the tests' relay, used here only to count

BUCKET: Final = "bench"
PER_DIRECTORY: Final = 1000
TOOLS: Final = ("s3pput", "s3pput-one", "s5cmd")


def build_tree(root: Path, files: int, per_directory: int = PER_DIRECTORY) -> None:
    """``files`` small files of distinct bytes, ``per_directory`` to a directory."""
    for n in range(files):
        directory = root / f"d{n // per_directory:04d}"
        if n % per_directory == 0:
            directory.mkdir(parents=True)
        (directory / f"f{n}.txt").write_bytes(b"%d\n" % n)


def report(
    title: str, runs: dict[str, list[Measurement]], requests: dict[str, Counter[str]]
) -> str:
    """The Markdown table: medians (min-max) of time, CPU and RSS; the requests of one run."""
    rounds = len(next(iter(runs.values())))
    lines = [
        f"# Second run over {title} ({rounds} rounds, medians; min-max)",
        "",
        "| tool | wall s | client CPU s | peak RSS MiB | requests (one run) | by method |",
        "|---|---|---|---|---|---|",
    ]
    for name, measured in runs.items():
        walls = [m.wall_s for m in measured]
        cpu = [m.cpu_s for m in measured]
        counted = requests[name]
        methods = ", ".join(f"{method} {count:,}" for method, count in counted.most_common())
        lines.append(
            f"| {name} | {statistics.median(walls):.2f} [{min(walls):.2f}-{max(walls):.2f}] "
            f"| {statistics.median(cpu):.2f} "
            f"| {statistics.median(m.max_rss_mib for m in measured):.0f} "
            f"| {sum(counted.values()):,} | {methods} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    """Upload once, time the reruns, count their requests, write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path(".venv"))
    parser.add_argument("--bench-venv", type=Path, default=Path(".venv-bench"))
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--per-directory",
        type=int,
        default=PER_DIRECTORY,
        help="files in each directory (300000 with --files 300000: one flat prefix, "
        "bigger than put keeps whole, so it is read through a listing window)",
    )
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--report", type=Path, default=Path("bench-results/rerun.md"))
    args = parser.parse_args()
    binaries = Binaries.find(args.venv, args.bench_venv)
    chosen = {tool.key: tool for tool in tools() if tool.key in args.tools}
    work = Path(tempfile.mkdtemp(prefix="s3pput-bench-rerun-"))
    runs: dict[str, list[Measurement]] = {name: [] for name in chosen}
    requests: dict[str, Counter[str]] = {}
    try:
        src = work / "src"
        build_tree(src, args.files, args.per_directory)
        with LocalS3(workdir=work / "weed") as server:
            server.client().create_bucket(Bucket=BUCKET)
            env = tool_env(dict(os.environ), server.env(), server.endpoint_url, work / "rc")
            env["XDG_CACHE_HOME"] = str(work / "cache")

            def command(name: str, template: str, endpoint: str) -> str:
                values = {"src": str(src), "bucket": BUCKET, "prefix": name, "endpoint": endpoint}
                return fill(template, binaries.paths(), values)

            for name, tool in chosen.items():  # the first upload, untimed
                first = run_measured(
                    command(name, tool.upload, server.endpoint_url), env, work / "up.log", 3600
                )
                print(f"uploaded with {name} in {first.wall_s:.1f} s", flush=True)
            names = list(chosen)
            for round_no in range(args.rounds):
                for name in names[round_no % len(names) :] + names[: round_no % len(names)]:
                    rerun = command(name, chosen[name].rerun, server.endpoint_url)
                    measured = run_measured(rerun, env, work / "rerun.log", 1800)
                    runs[name].append(measured)
                    print(f"round {round_no + 1} {name}: {measured.wall_s:.2f} s", flush=True)
            for name, tool in chosen.items():
                with FaultProxy(server.s3_port) as relay:
                    counted_env = {**env, "AWS_ENDPOINT_URL": relay.url}
                    run_measured(command(name, tool.rerun, relay.url), counted_env,
                                 work / "count.log", 1800)  # fmt: skip
                    requests[name] = Counter(seen.method for seen in relay.requests)
                print(f"{name}: {sum(requests[name].values()):,} requests", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    shape = f"{args.files:,} unchanged files, {args.per_directory:,} a directory"
    args.report.write_text(report(shape, runs, requests))
    print(args.report.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
