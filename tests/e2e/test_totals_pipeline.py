"""``s3pput-walk --count | s3pput-put | s3pput-stat``: the total record through real pipes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from s3pput.records import from_json, is_total


def test_walk_count_put_stat(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> None:
    """The total record goes first, put passes it on, stat reports the total, not as a file."""
    for n in range(25):
        (tmp_path / "src" / f"d{n % 3}").mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / f"d{n % 3}" / f"f{n}").write_bytes(b"x" * n)
    script = (
        f"s3pput-walk --count {tmp_path / 'src'} > walk.ndjson && "
        f"s3pput-put --bucket {bucket} < walk.ndjson > put.ndjson && "
        "s3pput-stat --json put.ndjson > stat.json"
    )
    run = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=s3_env, capture_output=True, check=False
    )
    assert run.returncode == 0, run.stderr
    walked = (tmp_path / "walk.ndjson").read_bytes().splitlines()
    assert json.loads(walked[0]) == {"s3pput": 1, "total_files": 25, "total_bytes": 300}
    put_lines = (tmp_path / "put.ndjson").read_bytes().splitlines()
    assert len(put_lines) == len(walked) == 26
    assert sum(is_total(from_json(line)) for line in put_lines) == 1
    stat = json.loads((tmp_path / "stat.json").read_text())
    assert (stat["records"], stat["uploaded"], stat["total_files"]) == (25, 25, 25)


def test_count_needs_paths_it_can_walk_twice(s3_env: dict[str, str]) -> None:
    """--count with --files-from is a usage error: a list on stdin cannot be read twice."""
    run = subprocess.run(
        ["s3pput-walk", "--count", "--files-from", "-"],
        input=b"",
        env=s3_env,
        capture_output=True,
        check=False,
    )
    assert run.returncode == 2
    assert b"--count" in run.stderr
