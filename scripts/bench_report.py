"""Turn a benchmark's results (.jsonl) into the markdown report and the chart.

Every figure in a table is a median over the rounds that succeeded, except
peak RSS (the maximum) and the min/max wall times; failed runs are counted in
``ok`` and listed under Failures, never averaged in.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "Row",
    "escape_cell",
    "load",
    "number",
    "ratio",
    "render",
    "save",
    "summarize",
    "write_outputs",
]

BASELINE: Final = "s5cmd"
_CHART_SCRIPT: Final = Path(__file__).with_name("bench_chart.py")
KEPT_HEADING: Final = "## Start-up"
"""Where the hand-written part of the report begins (import times, measured apart):
a rewrite keeps it, from this heading to the end."""
_WORKLOAD_TITLES: Final = {
    "small": "many small files",
    "medium": "medium files",
    "large": "one large file",
    "rerun": "rerun over unchanged small files (sync / skip-unchanged)",
}


@dataclass
class Results:
    """One results file: its header, its runs, and how long it took (if it finished)."""

    meta: dict[str, Any]
    runs: list[dict[str, Any]] = field(default_factory=list)
    seconds: float | None = None


@dataclass(frozen=True)
class Row:
    """One tool's line in one table."""

    tool: str
    ok: int
    total: int
    files: int
    bytes: int
    walls: tuple[float, ...]
    cpus: tuple[float, ...]
    rss: float
    proxy_cpu: float | None
    rewritten: int | None

    @property
    def wall(self) -> float:
        """Median wall seconds of the successful runs."""
        return statistics.median(self.walls)

    @property
    def files_per_s(self) -> float:
        """Files per second at the median wall time."""
        return self.files / self.wall

    @property
    def mb_per_s(self) -> float:
        """Decimal megabytes per second at the median wall time."""
        return self.bytes / self.wall / 1e6

    @property
    def cpu(self) -> float:
        """Median client CPU seconds (user+sys of the whole process tree)."""
        return statistics.median(self.cpus)


def load(path: Path) -> Results:
    """Read a results file written by bench.py."""
    results: Results | None = None
    runs: list[dict[str, Any]] = []
    seconds = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        if item["type"] == "meta":
            results = Results(item["data"])
        elif item["type"] == "run":
            runs.append(item["data"])
        elif item["type"] == "end":
            seconds = item["data"]["seconds"]
    if results is None:
        raise ValueError(f"{path}: no meta line")
    results.runs, results.seconds = runs, seconds
    return results


def save(results: Results, path: Path) -> None:
    """Write ``results`` as ``load`` reads them (bench.py writes the same lines as it goes)."""
    lines = [{"type": "meta", "data": results.meta}]
    lines += [{"type": "run", "data": run} for run in results.runs]
    if results.seconds is not None:
        lines.append({"type": "end", "data": {"seconds": results.seconds}})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def _median_or_none(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(results: Results, rounds: set[int] | None = None) -> dict[tuple[str, str], list[Row]]:
    """(workload, condition) -> one row per tool, in the tools' order; optionally some rounds."""
    order = [t["key"] for t in results.meta["tools"]]
    table: dict[tuple[str, str], list[Row]] = {}
    for workload, condition in results.meta["cells"]:
        rows = []
        for tool in order:
            runs = [
                r
                for r in results.runs
                if (r["workload"], r["condition"], r["tool"]) == (workload, condition, tool)
                and (rounds is None or r["round"] in rounds)
            ]
            if not runs:
                continue
            good = [r for r in runs if r["ok"]]
            rows.append(
                Row(
                    tool=tool,
                    ok=len(good),
                    total=len(runs),
                    files=runs[0]["files"],
                    bytes=runs[0]["bytes"],
                    walls=tuple(r["wall_s"] for r in good),
                    cpus=tuple(r["cpu_s"] for r in good),
                    rss=max((r["max_rss_mib"] for r in good), default=0.0),
                    proxy_cpu=_median_or_none(
                        [r["proxy_cpu_s"] for r in good if r.get("proxy_cpu_s") is not None]
                    ),
                    rewritten=max((r["rewritten"] for r in good if "rewritten" in r), default=None),
                )
            )
        table[workload, condition] = rows
    return table


def number(value: float) -> str:
    """Three significant-ish digits: 0.352, 12.4, 1,690."""
    if value >= 100:  # noqa: PLR2004  # beyond this, decimals are noise
        return f"{value:,.0f}"
    if value >= 10:  # noqa: PLR2004
        return f"{value:.1f}"
    return f"{value:.2f}" if value >= 1 else f"{value:.3f}"


def ratio(rows: list[Row], row: Row) -> float | None:
    """The row's throughput over the baseline's (the same for files/s and MB/s)."""
    base = next((r for r in rows if r.tool == BASELINE and r.ok), None)
    if base is None or not row.ok:
        return None
    return base.wall / row.wall


def _table(workload: str, condition: str, rows: list[Row], names: dict[str, str]) -> list[str]:
    unit = "MB/s" if workload == "large" else "files/s"
    head = [
        "tool",
        "ok",
        "median wall s",
        "files/s",
        "MB/s",
        "client CPU s",
        "CPU ms/file",
        "peak RSS MiB",
        f"{unit} vs {BASELINE}",
        "min-max wall s",
    ]
    if condition != "direct":
        head.append("proxy CPU s")
    if workload == "rerun":
        head.append("objects rewritten")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [names.get(row.tool, row.tool), f"{row.ok}/{row.total}"]
        if row.ok:
            rel = ratio(rows, row)
            cells += [
                number(row.wall),
                number(row.files_per_s),
                number(row.mb_per_s),
                number(row.cpu),
                number(row.cpu * 1000 / row.files),
                number(row.rss),
                "-" if rel is None else f"{rel:.2f}x",
                f"{number(min(row.walls))}-{number(max(row.walls))}",
            ]
        else:
            cells += ["failed"] + ["-"] * 7
        if condition != "direct":
            cells.append("-" if row.proxy_cpu is None else number(row.proxy_cpu))
        if workload == "rerun":
            cells.append("-" if row.rewritten is None else str(row.rewritten))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _load_during(results: Results) -> list[str]:
    """The 1-minute load average as each run started: above nproc, runs competed for CPU."""
    loads = [r["load1"] for r in results.runs if "load1" in r]
    if not loads:
        return []
    median, peak = statistics.median(loads), max(loads)
    return [f"- 1-minute load average as runs started: median {median:.2f}, max {peak:.2f}"]


def _header(results: Results) -> list[str]:
    meta, machine = results.meta, results.meta["machine"]
    took = "did not finish" if results.seconds is None else f"took {results.seconds / 60:.1f} min"
    command = "make bench-quick" if meta["mode"] == "quick" else "make bench"
    load_avg = ", ".join(map(str, machine["loadavg_at_start"]))
    lines = [
        "# Benchmarks" if meta["mode"] == "full" else "# Benchmarks (quick)",
        "",
        (
            f"Generated by `{command}` (scripts/bench.py), started {meta['started']}; the whole "
            f"benchmark {took}, {meta['rounds']} round(s). Rerun it rather than editing this file."
        ),
        "",
        "## Machine",
        "",
        (
            f"- {machine['nproc']} CPUs ({machine['cpu']}), {machine['memory_gib']} GiB RAM, "
            f"Linux {machine['kernel']}, Python {machine['python']}"
        ),
        f"- load average at start: {load_avg} (a shared machine: expect noise, hence medians)",
        *_load_during(results),
        (
            "- the server is SeaweedFS on loopback (`s3pput.sandbox.local_s3.LocalS3`), "
            "sharing the CPUs with the client"
        ),
        "",
        "| tool | version |",
        "|---|---|",
    ]
    lines += [f"| {k} | `{v}` |" for k, v in meta["versions"].items()]
    return lines


def _datasets(sizes: dict[str, int]) -> str:
    return (
        f"- `small`: {sizes['small_files']:,} files x {sizes['small_bytes'] // 1024} KiB in "
        "directories of 100, a quarter of the files two levels deep; "
        f"`medium`: {sizes['medium_files']:,} x {sizes['medium_bytes'] // 2**20} MiB; "
        f"`large`: 1 x {sizes['large_bytes'] // 2**20} MiB. Random bytes, made once, "
        "read from the page cache by every run."
    )


_METHOD: Final = (
    (
        "- `rerun`: the tool's skip-unchanged command over `small` again, into the prefix "
        "its own `small`/direct run of the same round filled (so nothing should be sent; "
        "*objects rewritten* counts objects whose ETag or LastModified changed anyway)."
    ),
    (
        "- Conditions: `direct` is straight to SeaweedFS; `rtt20` and `proxy0` go through a "
        "delaying TCP proxy (scripts/bench_proxy.py, in its own process, its CPU shown apart) "
        "that holds each chunk {delays} in each direction: `rtt20` adds 20 ms to every round "
        "trip, `proxy0` measures the proxy itself."
    ),
    (
        "- Each round runs every tool once per table, in an order rotated each round, "
        "each into a fresh prefix. A run counts only if it exits 0 and a ListObjectsV2 "
        "of its prefix finds every file, with the right total size."
    ),
    (
        "- Wall time from start to exit of `bash -o pipefail -c CMD`; client CPU is "
        "user+sys of bash and everything it waited for (`os.wait4`), so all stages of a "
        "pipeline; peak RSS is the largest single process's. MB = 10^6 bytes. "
        "Figures are medians over the successful rounds; peak RSS is the maximum."
    ),
    "",
    (
        "Commands, with each tool's defaults (credentials, and `AWS_ENDPOINT_URL` for "
        "s3pput, come from the environment):"
    ),
    "",
    "| tool | upload | rerun | notes |",
    "|---|---|---|---|",
)


def escape_cell(text: str) -> str:
    """Escape pipes, which would split a markdown table cell even inside backticks."""
    return text.replace("|", "\\|")


def _method(results: Results) -> list[str]:
    meta = results.meta
    delays = ", ".join(f"{v:g} ms ({k})" for k, v in meta["delay_ms_each_way"].items())
    lines = ["", "## Method", "", _datasets(meta["sizes"])]
    lines += [line.replace("{delays}", delays) for line in _METHOD]
    lines += [
        "| "
        + " | ".join(
            escape_cell(c)
            for c in (tool["name"], f"`{tool['upload']}`", f"`{tool['rerun']}`", tool["note"])
        )
        + " |"
        for tool in meta["tools"]
    ]
    return lines


def _calibration(results: Results, names: dict[str, str]) -> list[str]:
    """Does the proxy at 0 ms slow anything down? Compare it with direct, in the same rounds."""
    rounds = {r["round"] for r in results.runs if r["condition"] == "proxy0"}
    table = summarize(results, rounds)
    direct, proxied = table.get(("small", "direct")), table.get(("small", "proxy0"))
    if not direct or not proxied:
        return []
    lines = [
        "",
        "## Proxy calibration (small files: proxy0 against direct)",
        "",
        (
            "The proxy at 0 ms should cost nothing: a ratio well below 1 means the proxy "
            "itself (its CPU, on a machine this small) holds a tool back, so that tool's "
            f"rtt20 figures understate it. Medians over round(s) {sorted(rounds)}."
        ),
        "",
        "| tool | direct files/s | proxy0 files/s | proxy0 / direct | proxy CPU s |",
        "|---|---|---|---|---|",
    ]
    by_tool = {r.tool: r for r in direct}
    for row in proxied:
        base = by_tool.get(row.tool)
        if base is None or not base.ok or not row.ok:
            continue
        lines.append(
            f"| {names.get(row.tool, row.tool)} | {number(base.files_per_s)} | "
            f"{number(row.files_per_s)} | {row.files_per_s / base.files_per_s:.2f} | "
            f"{'-' if row.proxy_cpu is None else number(row.proxy_cpu)} |"
        )
    return lines


def _failures(results: Results, names: dict[str, str]) -> list[str]:
    failed = [r for r in results.runs if not r["ok"]]
    if not failed:
        return ["", "## Failures", "", "None: every run exited 0 and left the whole dataset."]
    lines = ["", "## Failures", ""]
    lines += [
        f"- round {r['round']}, {r['workload']}/{r['condition']}, "
        f"{names.get(r['tool'], r['tool'])}: {r['error']}"
        for r in failed
    ]
    return lines


def render(results: Results, chart: Path | None, report: Path) -> str:
    """The whole markdown report."""
    names = {t["key"]: t["name"] for t in results.meta["tools"]}
    table = summarize(results)
    lines = _header(results) + _method(results) + ["", "## Results"]
    if chart is not None:
        lines += [
            "",
            f"![throughput relative to {BASELINE}]({os.path.relpath(chart, report.parent)})",
        ]
    for (workload, condition), rows in table.items():
        lines += ["", f"### {workload}, {condition}: {_WORKLOAD_TITLES[workload]}", ""]
        lines += _table(workload, condition, rows, names)
    lines += _calibration(results, names) + _failures(results, names) + _kept(report)
    return "\n".join(lines) + "\n"


def _kept(report: Path) -> list[str]:
    """The old report's hand-written sections (from KEPT_HEADING on), to write again."""
    if not report.exists():
        return []
    text = report.read_text(encoding="utf-8")
    at = text.find(f"\n{KEPT_HEADING}\n")
    return [] if at < 0 else ["", *text[at + 1 :].rstrip("\n").splitlines()]


def _chart_data(results: Results) -> dict[str, Any]:
    """What bench_chart.py plots: each tool's throughput relative to the baseline, per cell."""
    table = summarize(results)
    names = {t["key"]: t["name"] for t in results.meta["tools"]}
    cells = list(table)
    tools = [t["key"] for t in results.meta["tools"]]
    ratios: dict[str, list[float | None]] = {names[t]: [] for t in tools}
    for cell in cells:
        rows = {r.tool: r for r in table[cell]}
        for tool in tools:
            row = rows.get(tool)
            ratios[names[tool]].append(None if row is None else ratio(table[cell], row))
    return {"cells": [f"{w}\n{c}" for w, c in cells], "baseline": BASELINE, "ratios": ratios}


def write_outputs(results_path: Path, report: Path, chart: Path, python: Path) -> None:
    """Write the report, and the chart with matplotlib from the bench venv if it is there."""
    results = load(results_path)
    drawn: Path | None = None
    if python.exists():
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as data:
            json.dump(_chart_data(results), data)
        try:
            chart.parent.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                [str(python), str(_CHART_SCRIPT), data.name, str(chart)], check=False
            )
            drawn = chart if done.returncode == 0 else None
        finally:
            Path(data.name).unlink()
    if drawn is None:
        print(f"no chart: {python} could not draw it", file=sys.stderr)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(render(results, drawn, report), encoding="utf-8")
