"""Draw the benchmark chart: each tool's throughput relative to s5cmd, per workload.

Runs with the bench venv's Python (``.venv-bench``, which has matplotlib), so
s3pput's own venv never needs matplotlib: ``python bench_chart.py DATA.json OUT.png``,
where DATA.json comes from bench_report.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # no display: render straight to a file

import matplotlib.pyplot as plt


def draw(data: dict[str, Any], out: Path) -> None:
    """Grouped bars, one group per (workload, condition), one bar per tool; 1.0 = baseline."""
    cells: list[str] = data["cells"]
    ratios: dict[str, list[float | None]] = data["ratios"]
    width = 0.8 / max(len(ratios), 1)
    fig, ax = plt.subplots(figsize=(max(8, 1.6 * len(cells)), 4.8))
    for index, (tool, values) in enumerate(ratios.items()):
        xs = [i + (index - (len(ratios) - 1) / 2) * width for i in range(len(cells))]
        heights = [v if v is not None else 0.0 for v in values]
        bars = ax.bar(xs, heights, width, label=tool)
        for bar, value in zip(bars, values, strict=True):
            label = "fail" if value is None else f"{value:.2f}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=6,
                rotation=90,
            )
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(cells)), cells, fontsize=8)
    ax.set_ylabel(f"throughput relative to {data['baseline']} (higher is better)")
    ax.set_title("Median files/s (MB/s for large) relative to s5cmd")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.margins(y=0.15)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str]) -> int:
    """Read the chart data and write the PNG."""
    data = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    draw(data, Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
