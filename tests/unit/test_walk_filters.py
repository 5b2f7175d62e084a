"""--exclude and --include on a tree walk: the original's rules, and the aws idiom below the top."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from s3pput.records import Record
from s3pput.walk.local_tree import WalkOptions, iter_files, iter_files_from


def walk(root: Path, **options: object) -> list[Record]:
    """Walk one tree with the given options and collect every record."""
    return list(iter_files([str(root)], WalkOptions(**options)))  # type: ignore[arg-type]


def keys(records: list[Record]) -> list[str | None]:
    """The keys of the records that are not failures, in order."""
    return [r.key for r in records if r.status != "failed"]


@pytest.fixture(name="photos")
def fixture_photos(tmp_path: Path) -> Path:
    """Photos and notes at depths 1, 2 and 3, beside a cache directory."""
    root = tmp_path / "photos"
    for rel in (
        "top.jpg",
        "top.txt",
        "2024/a.jpg",
        "2024/a.txt",
        "2024/june/b.jpg",
        "2024/june/b.txt",
        "cache/c.jpg",
        "cache/c.tmp",
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    return root


@pytest.fixture(name="listed")
def fixture_listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The directories the walk lists, in order (os.listdir, still called for real)."""
    seen: list[str] = []
    real: Callable[[str], list[str]] = os.listdir

    def listdir(path: str) -> list[str]:
        seen.append(path.rstrip("/").rsplit("/", 1)[-1])
        return real(path)

    monkeypatch.setattr(os, "listdir", listdir)
    return seen


class TestTodaysRules:
    """What worked before the aws idiom did, and must keep working the same."""

    def test_exclude_alone_leaves_out_files_by_name_or_path(self, photos: Path) -> None:
        """An exclude matches a file's name or its path below SRC, at any depth."""
        assert keys(walk(photos, exclude=("*.txt", "cache/*"))) == [
            "2024/a.jpg",
            "2024/june/b.jpg",
            "top.jpg",
        ]

    def test_exclude_alone_prunes_a_directory_without_reading_it(
        self, photos: Path, listed: list[str]
    ) -> None:
        """An excluded directory is never listed: nothing below it is read, so it costs nothing."""
        (photos / "cache" / "broken").symlink_to("nowhere")
        records = walk(photos, exclude=("cache",))
        assert keys(records) == [
            "2024/a.jpg",
            "2024/a.txt",
            "2024/june/b.jpg",
            "2024/june/b.txt",
            "top.jpg",
            "top.txt",
        ]
        assert records == [r for r in records if r.status != "failed"]
        assert "cache" not in listed

    def test_exclude_star_alone_leaves_nothing(self, photos: Path, listed: list[str]) -> None:
        """--exclude '*' without an include is an empty walk that reads only SRC."""
        assert walk(photos, exclude=("*",)) == []
        assert listed == ["photos"]

    def test_include_alone_filters_nothing(self, photos: Path) -> None:
        """As in s3-parallel-put, an include only re-admits what an exclude removed."""
        assert keys(walk(photos, include=("*.jpg",))) == keys(walk(photos))

    def test_include_readmits_a_file_beside_it(self, photos: Path) -> None:
        """An include wins over an exclude that matches the same file."""
        expected = ["2024/a.jpg", "2024/june/b.jpg", "cache/c.jpg", "cache/c.tmp", "top.jpg"]
        assert keys(walk(photos, exclude=("*.txt",), include=("a.*",))) == [
            "2024/a.jpg",
            "2024/a.txt",
            "2024/june/b.jpg",
            "cache/c.jpg",
            "cache/c.tmp",
            "top.jpg",
        ]
        assert keys(walk(photos, exclude=("*.t*",), include=("c.tmp",))) == expected

    def test_the_idiom_selects_the_files_at_the_top(self, photos: Path) -> None:
        """--exclude '*' --include '*.jpg' keeps the top-level .jpg files (it always did)."""
        assert "top.jpg" in keys(walk(photos, exclude=("*",), include=("*.jpg",)))

    def test_a_directory_that_matches_an_include_is_walked(self, photos: Path) -> None:
        """A directory matching an include and an exclude is walked, its entries judged anew."""
        records = walk(photos, exclude=("*",), include=("2024", "june", "*.txt"))
        assert keys(records) == ["2024/a.txt", "2024/june/b.txt", "top.txt"]

    def test_listed_paths_are_judged_one_by_one(self, photos: Path) -> None:
        """With --files-from each listed file is judged by its name and path, the idiom too."""
        listed = [str(photos / rel) for rel in ("top.txt", "2024/june/b.jpg", "2024/a.txt")]
        found = iter_files_from(listed, WalkOptions(exclude=("*",), include=("*.jpg",)))
        assert [r.path for r in found] == [str(photos / "2024/june/b.jpg")]
