"""Peak memory and speed of one very large file: s3pput -j 8 against s5cmd, same server, same runs.

Issue #4 asks that put's peak RSS stays under 200 MB while it sends a 2 GiB
file with 8 jobs. This starts a local SeaweedFS, writes a random file, and
uploads it with each tool in turn for a few rounds (the order rotating),
measuring wall time, client CPU and the largest process's peak RSS (the
same launcher as ``make bench``). It checks each object's size, then writes
a Markdown table of medians to ``--report``.

    python scripts/bench_memory.py --venv .venv --bench-venv .venv-bench
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
from bench_tools import Binaries, fill, tool_env

from s3pput.sandbox.local_s3 import LocalS3

MIB: Final = 1024 * 1024
BUCKET: Final = "bench"
TOOLS: Final = {
    "s3pput -j 8": "{walk} {src} --prefix {prefix} | {put} --bucket {bucket} -j 8 | {stat}",
    "s5cmd --numworkers 8": "{s5cmd} --endpoint-url {endpoint} --numworkers 8 cp {src} "
    "s3://{bucket}/{prefix}/",
}
LIMIT_MIB: Final = 200


def write_random(path: Path, size: int) -> None:
    """``size`` random bytes, written a few MiB at a time."""
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(8 * MIB, left))
            out.write(block)
            left -= len(block)


def report(runs: dict[str, list[Measurement]], size: int, rounds: int) -> str:
    """The Markdown table of medians (and ranges) per tool."""
    lines = [
        f"# One {size // MIB} MiB file, {rounds} rounds (medians; min-max in brackets)",
        "",
        "| tool | MB/s | wall s | client CPU s | peak RSS MiB | under 200 MB? |",
        "|---|---|---|---|---|---|",
    ]
    for name, measured in runs.items():
        walls = [m.wall_s for m in measured]
        rss = [m.max_rss_mib for m in measured]
        cpu = [m.cpu_s for m in measured]
        rate = size / 1e6 / statistics.median(walls)
        verdict = "yes" if max(rss) * MIB < LIMIT_MIB * 1e6 else "no"
        lines.append(
            f"| {name} | {rate:.0f} | {statistics.median(walls):.2f} "
            f"[{min(walls):.2f}-{max(walls):.2f}] | {statistics.median(cpu):.2f} | "
            f"{statistics.median(rss):.0f} [{min(rss):.0f}-{max(rss):.0f}] | {verdict} |"
        )
    lines += [
        "",
        "Peak RSS is the largest single process of the command (for s3pput's pipeline, put).",
        f"Commands: {'; '.join(f'`{t}`' for t in TOOLS.values())}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the rounds and write the report; exit 1 if a run failed or an object is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=Path(".venv"))
    parser.add_argument("--bench-venv", type=Path, default=Path(".venv-bench"))
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report", type=Path, default=Path("bench-results/memory.md"))
    args = parser.parse_args(argv)
    binaries = Binaries.find(args.venv, args.bench_venv)
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="s3pput-bench-memory-"))
    runs: dict[str, list[Measurement]] = {name: [] for name in TOOLS}
    failed = False
    try:
        src = work / "huge.bin"
        print(f"writing {args.size_mib} MiB to {src} ...", flush=True)
        write_random(src, size)
        with LocalS3() as server:
            client = server.client()
            client.create_bucket(Bucket=BUCKET)
            env = tool_env(dict(os.environ), server.env(), server.endpoint_url, work / "rclone")
            names = list(TOOLS)
            for round_no in range(args.rounds):
                for name in names[round_no % 2 :] + names[: round_no % 2]:
                    prefix = f"r{round_no}/{name.split()[0]}"
                    values = {
                        "src": str(src),
                        "bucket": BUCKET,
                        "prefix": prefix,
                        "endpoint": server.endpoint_url,
                    }
                    command = fill(TOOLS[name], binaries.paths(), values)
                    measured = run_measured(command, env, work / f"{round_no}.log", 1800)
                    head = client.head_object(Bucket=BUCKET, Key=f"{prefix}/{src.name}")
                    ok = measured.exit_code == 0 and head["ContentLength"] == size
                    failed |= not ok
                    print(
                        f"round {round_no + 1} {name}: {measured.wall_s:.2f} s, "
                        f"{measured.max_rss_mib:.0f} MiB{'' if ok else ' FAILED'}",
                        flush=True,
                    )
                    runs[name].append(measured)
                    client.delete_object(Bucket=BUCKET, Key=f"{prefix}/{src.name}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report(runs, size, args.rounds), encoding="utf-8")
    print(args.report.read_text(encoding="utf-8"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
