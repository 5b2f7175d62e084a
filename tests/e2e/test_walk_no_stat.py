"""``s3pput-walk --no-stat``: records without size and mtime are enough for put."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from s3pput.records import from_json


def test_put_uploads_records_that_walk_did_not_stat(
    s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> None:
    """Put uploads what walk --no-stat lists, and fills in each size from its own stat."""
    files = {"a.txt": b"hello", "d/b.bin": bytes(range(256)) * 40, "d/e/empty": b""}
    for rel, data in files.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"s3pput-walk --no-stat src | tee walk.ndjson | s3pput-put --bucket {bucket}",
        ],
        env=s3_env,
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    walked = [from_json(line) for line in (tmp_path / "walk.ndjson").read_bytes().splitlines()]
    assert all(r.size is None and r.mtime is None for r in walked)
    results = {r.key: r for r in map(from_json, done.stdout.splitlines())}
    assert {key: (r.status, r.size) for key, r in results.items()} == {
        key: ("uploaded", len(data)) for key, data in files.items()
    }
    for key, data in files.items():
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
