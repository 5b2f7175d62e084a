"""The one-command ``s3pput`` takes every walk option, against the real server (#16 item 5)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json


def sh(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run a shell line with bash in ``cwd``."""
    return subprocess.run(
        ["bash", "-c", script], env=env, cwd=cwd, capture_output=True, timeout=240, check=False
    )


def stored_keys(s3: Any, bucket: str) -> list[str]:
    """Every key in the bucket, sorted."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def output_records(path: Path) -> list[Record]:
    """The records an --output file holds."""
    return [from_json(line) for line in path.read_bytes().splitlines() if line.strip()]


@pytest.fixture(name="photos")
def fixture_photos(tmp_path: Path) -> Path:
    """Photos and notes at depths 1, 2 and 3."""
    root = tmp_path / "photos"
    for rel in ("top.jpg", "top.txt", "2024/a.jpg", "2024/a.txt", "2024/june/b.jpg", "cache/c.tmp"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return root


class TestOneCommandTakesWalkOptions:
    @pytest.mark.usefixtures("photos")
    def test_files_from_a_list(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """--files-from FILE uploads the listed files, keyed by their listed paths."""
        (tmp_path / "list.txt").write_text("photos/top.jpg\nphotos/2024/a.txt\n")
        result = sh(
            f"s3pput --bucket {bucket} --files-from list.txt -o run.ndjson", s3_env, tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert stored_keys(s3, bucket) == ["photos/2024/a.txt", "photos/top.jpg"]

    @pytest.mark.usefixtures("photos")
    def test_files_from_stdin_nul_separated(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """With find -print0 | s3pput --files-from - --null: each file once, no listed dir."""
        result = sh(
            f"find photos/2024 -print0 | s3pput --bucket {bucket} --files-from - --null",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert stored_keys(s3, bucket) == [
            "photos/2024/a.jpg",
            "photos/2024/a.txt",
            "photos/2024/june/b.jpg",
        ]

    @pytest.mark.usefixtures("photos")
    def test_recursive_walks_listed_directories(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """-r walks a listed directory, under its listed path as the key prefix."""
        result = sh(
            f"echo photos/2024/june | s3pput --bucket {bucket} --files-from - -r --prefix p",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert stored_keys(s3, bucket) == ["p/photos/2024/june/b.jpg"]

    @pytest.mark.parametrize("workers", ["", "--workers 2"], ids=["in-process", "workers"])
    def test_count_knows_the_total_up_front(
        self, photos: Path, s3_env: dict[str, str], bucket: str, tmp_path: Path, workers: str
    ) -> None:
        """--count: the total record comes first (as walk --count | put writes it) and is summed."""
        result = sh(
            f"s3pput --bucket {bucket} --count --json {workers} photos -o run.ndjson",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["total_files"] == 6
        assert summary["total_bytes"] == sum(
            p.stat().st_size for p in photos.rglob("*") if p.is_file()
        )
        assert summary["uploaded"] == 6
        first, *files = output_records(tmp_path / "run.ndjson")
        assert (first.total_files, first.path) == (6, None)
        assert [r.status for r in files] == ["uploaded"] * 6

    @pytest.mark.usefixtures("photos")
    def test_the_aws_idiom_and_pattern_files(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """--exclude-from and --include-from in the one command: every .jpg at any depth."""
        (tmp_path / "out.txt").write_text("# everything\n*\n")
        (tmp_path / "in.txt").write_text("*.jpg\n")
        result = sh(
            f"s3pput --bucket {bucket} --exclude-from out.txt --include-from in.txt photos",
            s3_env,
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert stored_keys(s3, bucket) == ["2024/a.jpg", "2024/june/b.jpg", "top.jpg"]


class TestOneCommandUsage:
    @pytest.mark.parametrize(
        ("args", "says"),
        [
            ("--files-from list.txt photos", b"not both"),
            ("--count --files-from list.txt", b"--count walks SRC twice"),
            ("--null photos", b"--null only applies to --files-from"),
            ("", b"nothing to walk"),
            ("--exclude-from missing.txt photos", b"cannot read --exclude-from missing.txt"),
        ],
    )
    def test_walk_options_that_do_not_fit_are_one_line(
        self, args: str, says: bytes, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """A mistake with walk's options is a short usage error, exit 2, nothing uploaded."""
        (tmp_path / "list.txt").write_text("x\n")
        result = sh(f"s3pput --bucket {bucket} {args}", s3_env, tmp_path)
        assert result.returncode == 2
        assert says in result.stderr
        assert len(result.stderr.splitlines()) <= 5

    def test_a_missing_list_is_one_line(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """--files-from a file that is not there: one line naming it, exit 2, no traceback."""
        result = sh(f"s3pput --bucket {bucket} --files-from nope.txt", s3_env, tmp_path)
        assert result.returncode == 2
        assert b"nope.txt" in result.stderr
        assert b"Traceback" not in result.stderr

    def test_closed_stdin_is_one_line(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """--files-from - with stdin closed: one line, exit 2."""
        result = sh(f"s3pput --bucket {bucket} --files-from - <&-", s3_env, tmp_path)
        assert result.returncode == 2
        assert b"standard input is closed" in result.stderr
        assert b"Traceback" not in result.stderr
