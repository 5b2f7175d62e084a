"""``s3pput-walk s3://B/P --exclude/--include``: the filters apply to S3 sources too (#16).

They were silently ignored there: every object was copied whatever the flags.
An object's path below the URL is judged as a file's path below SRC is.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import from_json


def walk_keys(url: str, env: dict[str, str], cwd: Path, *flags: str) -> list[str | None]:
    """The keys ``s3pput-walk URL FLAGS`` writes, in order."""
    result = subprocess.run(
        ["s3pput-walk", url, *flags],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [from_json(line).key for line in result.stdout.splitlines()]


@pytest.fixture(name="photos")
def fixture_photos(s3: Any, bucket: str) -> str:
    """Objects at depths 1, 2 and 3 below photos/, and one beside it."""
    for key in (
        "photos/top.jpg",
        "photos/top.txt",
        "photos/2024/a.jpg",
        "photos/2024/june/b.jpg",
        "photos/cache/c.jpg",
        "other/x.jpg",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return f"s3://{bucket}/photos"


class TestS3SourceFilters:
    def test_the_aws_idiom_on_an_s3_prefix(
        self, photos: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--exclude '*' --include '*.jpg' keeps the .jpg objects at every depth below the URL."""
        found = walk_keys(photos, s3_env, tmp_path, "--exclude", "*", "--include", "*.jpg")
        assert found == ["2024/a.jpg", "2024/june/b.jpg", "cache/c.jpg", "top.jpg"]

    def test_an_excluded_directory_leaves_out_the_objects_below_it(
        self, photos: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--exclude cache leaves out photos/cache/*, as it does a local cache/ directory."""
        found = walk_keys(photos, s3_env, tmp_path, "--exclude", "cache", "--exclude", "*.txt")
        assert found == ["2024/a.jpg", "2024/june/b.jpg", "top.jpg"]

    def test_one_object_is_judged_by_its_name(
        self, photos: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A URL naming one object is judged as a file SRC is, by its name."""
        one = f"{photos}/top.txt"
        assert walk_keys(one, s3_env, tmp_path, "--exclude", "*.txt") == []
        assert walk_keys(one, s3_env, tmp_path, "--exclude", "*.jpg") == ["top.txt"]
