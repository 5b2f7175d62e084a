"""Two records for one key through real pipes: the later fails, the object keeps the first."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json


def sh(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run a pipeline with bash (no pipefail)."""
    return subprocess.run(
        ["bash", "-c", script], env=env, cwd=cwd, capture_output=True, timeout=240, check=False
    )


def records(data: bytes) -> list[Record]:
    """Parse every line of a stage's output."""
    return [from_json(line) for line in data.splitlines() if line.strip()]


@pytest.fixture(name="two_dirs")
def fixture_two_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """d1/x.txt and d2/x.txt with different bytes (and one file of each alone)."""
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    for directory, body in ((d1, b"first"), (d2, b"second")):
        directory.mkdir()
        (directory / "x.txt").write_bytes(body)
        (directory / f"only-{directory.name}.txt").write_bytes(body)
    return d1, d2


class TestDuplicatePipelines:
    def test_two_sources_for_one_key(
        self,
        two_dirs: tuple[Path, Path],
        s3_env: dict[str, str],
        s3: Any,
        bucket: str,
        tmp_path: Path,
    ) -> None:
        """Two SRC dirs: d2/x.txt fails naming d1/x.txt, the object holds d1's bytes, exit 1."""
        d1, d2 = two_dirs
        done = sh(f"s3pput-walk {d1} {d2} | s3pput-put --bucket {bucket}", s3_env, tmp_path)
        assert done.returncode == 1, done.stderr
        by_path = {r.path: r for r in records(done.stdout)}
        assert len(by_path) == 4
        second = by_path[f"{d2}/x.txt"]
        assert second.status == "failed"
        assert second.error == f"duplicate key (also from {d1}/x.txt)"
        assert by_path[f"{d1}/x.txt"].status == "uploaded"
        assert s3.get_object(Bucket=bucket, Key="x.txt")["Body"].read() == b"first"
        assert {by_path[f"{d1}/only-d1.txt"].status, by_path[f"{d2}/only-d2.txt"].status} == {
            "uploaded"
        }

    def test_two_source_files_with_one_basename(
        self,
        two_dirs: tuple[Path, Path],
        s3_env: dict[str, str],
        s3: Any,
        bucket: str,
        tmp_path: Path,
    ) -> None:
        """Two SRC files d1/x.txt and d2/x.txt: both are keyed x.txt; the second fails."""
        d1, d2 = two_dirs
        done = sh(
            f"s3pput-walk {d1}/x.txt {d2}/x.txt | s3pput-put --bucket {bucket}", s3_env, tmp_path
        )
        assert done.returncode == 1, done.stderr
        by_path = {r.path: r for r in records(done.stdout)}
        assert by_path[f"{d1}/x.txt"].status == "uploaded"
        assert by_path[f"{d2}/x.txt"].error == f"duplicate key (also from {d1}/x.txt)"
        assert s3.get_object(Bucket=bucket, Key="x.txt")["Body"].read() == b"first"

    def test_a_name_that_is_not_utf8_and_its_percent_twin(
        self, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """caf\\xe9.txt and a file named caf%E9.txt both get the key caf%E9.txt: one fails."""
        root = tmp_path / "tree"
        root.mkdir()
        (root / "caf%E9.txt").write_bytes(b"literal percent")
        Path(os.fsdecode(os.fsencode(root) + b"/caf\xe9.txt")).write_bytes(b"latin-1")
        done = sh(f"s3pput-walk {root} | s3pput-put --bucket {bucket}", s3_env, tmp_path)
        assert done.returncode == 1, done.stderr
        results = records(done.stdout)
        assert [r.key for r in results] == ["caf%E9.txt", "caf%E9.txt"]
        uploaded, failed = sorted(results, key=lambda r: r.status != "uploaded")
        assert failed.status == "failed"
        assert failed.error is not None
        assert failed.error.startswith("duplicate key (also from")
        stored = s3.get_object(Bucket=bucket, Key="caf%E9.txt")["Body"].read()
        assert stored == Path(uploaded.path or "").read_bytes()

    def test_replaying_failures_does_not_upload_the_duplicate(
        self,
        two_dirs: tuple[Path, Path],
        s3_env: dict[str, str],
        s3: Any,
        bucket: str,
        tmp_path: Path,
    ) -> None:
        """Replayed failures: the duplicate stays failed, the object keeps d1's bytes.

        The replay has no d1/x.txt to compare with, so a duplicate found once is
        passed on as it is; another failure in the same replay uploads as usual.
        """
        d1, d2 = two_dirs
        gone = d1 / "only-d1.txt"
        gone.rename(tmp_path / "aside")
        sh(f"s3pput-walk {d1} {d2} > walk.ndjson", s3_env, tmp_path)
        gone_record = json.dumps({"path": str(gone), "key": "only-d1.txt"})
        (tmp_path / "walk.ndjson").write_text(
            (tmp_path / "walk.ndjson").read_text() + gone_record + "\n"
        )
        sh(f"s3pput-put --bucket {bucket} < walk.ndjson > run.ndjson", s3_env, tmp_path)
        (tmp_path / "aside").rename(gone)
        replay = sh(
            f"jq -c 'select(.status==\"failed\")' run.ndjson | s3pput-put --bucket {bucket}",
            s3_env,
            tmp_path,
        )
        assert replay.returncode == 1, replay.stderr
        by_path = {r.path: r for r in records(replay.stdout)}
        assert len(by_path) == 2
        assert by_path[str(gone)].status == "uploaded"
        duplicate = by_path[f"{d2}/x.txt"]
        assert duplicate.error == f"duplicate key (also from {d1}/x.txt)"
        assert s3.get_object(Bucket=bucket, Key="x.txt")["Body"].read() == b"first"

    def test_the_one_command_finds_duplicates_too(
        self,
        two_dirs: tuple[Path, Path],
        s3_env: dict[str, str],
        s3: Any,
        bucket: str,
        tmp_path: Path,
    ) -> None:
        """s3pput d1 d2: the summary counts one failure, the object holds d1's bytes."""
        d1, d2 = two_dirs
        done = sh(f"s3pput --bucket {bucket} --json {d1} {d2}", s3_env, tmp_path)
        assert done.returncode == 1, done.stderr
        summary = json.loads(done.stdout)
        assert (summary["uploaded"], summary["failed"]) == (3, 1)
        assert summary["errors"][0]["error"] == f"duplicate key (also from {d1}/x.txt)"
        assert s3.get_object(Bucket=bucket, Key="x.txt")["Body"].read() == b"first"
