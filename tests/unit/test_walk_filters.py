"""--exclude and --include on a tree walk: the original's rules, and the aws idiom below the top."""

from __future__ import annotations

import fnmatch
import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from s3pput.records import Record
from s3pput.walk.filters import Filters, read_patterns
from s3pput.walk.local_tree import WalkOptions, iter_files, iter_files_from
from s3pput.walk.tar_members import iter_members

PATTERN_SETS = [
    {"exclude": ("*",), "include": ("*.jpg",)},
    {"exclude": ("cache",)},
    {"exclude": ("2024",), "include": ("june",)},
    {"exclude": ("*",), "include": ("2024/*.jpg",)},
    {"exclude": ("*.txt", "june"), "include": ("b.*",)},
    {"exclude": ("2024/*",), "include": ("*.txt",)},
    {"include": ("*.jpg",)},
]
PATTERN_IDS = ["idiom", "dir", "readmitted-dir", "slash-include", "mixed", "path", "include-only"]


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


def watch_listings(monkeypatch: pytest.MonkeyPatch, seen: Callable[[str], None]) -> None:
    """Call ``seen`` with each directory the walk lists (os.listdir and os.scandir stay real)."""
    for name in ("listdir", "scandir"):
        real = getattr(os, name)

        def listing(path: str, real: Callable[[str], Any] = real) -> Any:
            seen(path)
            return real(path)

        monkeypatch.setattr(os, name, listing)


@pytest.fixture(name="listed")
def fixture_listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the directories the walk lists, in order."""
    names: list[str] = []
    watch_listings(monkeypatch, lambda path: names.append(path.rstrip("/").rsplit("/", 1)[-1]))
    return names


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


class TestTheAwsIdiom:
    """An include re-admits files below an excluded directory, as aws s3 cp does (#16)."""

    def test_exclude_all_include_jpg_selects_jpgs_at_every_depth(self, photos: Path) -> None:
        """--exclude '*' --include '*.jpg' keeps the .jpg files at depths 1, 2 and 3, only them."""
        assert keys(walk(photos, exclude=("*",), include=("*.jpg",))) == [
            "2024/a.jpg",
            "2024/june/b.jpg",
            "cache/c.jpg",
            "top.jpg",
        ]

    def test_the_idiom_without_stat_and_on_threads(self, photos: Path) -> None:
        """--no-stat and --walk-threads select the same files."""
        expected = keys(walk(photos, exclude=("*",), include=("*.jpg",)))
        assert keys(walk(photos, exclude=("*",), include=("*.jpg",), stat_files=False)) == expected
        assert keys(walk(photos, exclude=("*",), include=("*.jpg",), walk_threads=4)) == expected

    def test_an_excluded_directory_keeps_only_what_an_include_readmits(self, photos: Path) -> None:
        """Below an excluded directory a file is kept only when an include matches it."""
        assert keys(walk(photos, exclude=("2024",), include=("*.jpg",))) == [
            "2024/a.jpg",
            "2024/june/b.jpg",
            "cache/c.jpg",
            "cache/c.tmp",
            "top.jpg",
            "top.txt",
        ]

    def test_an_included_directory_below_an_excluded_one_is_kept(self, photos: Path) -> None:
        """A directory an include re-admits is walked as if kept: its files need no include."""
        assert keys(walk(photos, exclude=("2024",), include=("june",))) == [
            "2024/june/b.jpg",
            "2024/june/b.txt",
            "cache/c.jpg",
            "cache/c.tmp",
            "top.jpg",
            "top.txt",
        ]

    def test_an_include_with_a_slash_reads_only_the_directories_it_can_reach(
        self, photos: Path, listed: list[str]
    ) -> None:
        """--include '2024/*.jpg' cannot match below cache/, so cache/ is not read."""
        records = walk(photos, exclude=("*",), include=("2024/*.jpg",))
        assert keys(records) == ["2024/a.jpg", "2024/june/b.jpg"]
        assert listed == ["photos", "2024", "june"]

    def test_a_file_left_out_is_not_stated(
        self, photos: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The listing already says an excluded file is no directory: no stat() is spent on it."""
        stated: list[str] = []
        real = os.stat

        def spy(path: str, *args: Any, **kwargs: Any) -> os.stat_result:
            stated.append(os.path.basename(path))  # noqa: PTH119  # str paths, as the walk's
            return real(path, *args, **kwargs)

        monkeypatch.setattr(os, "stat", spy)
        walk(photos, exclude=("*",), include=("*.jpg",))
        assert not [name for name in stated if name.endswith((".txt", ".tmp"))]
        assert "b.jpg" in stated

    def test_what_is_left_out_fails_nothing_and_says_nothing(self, photos: Path) -> None:
        """A broken link, a fifo and a loop below an excluded directory give no record, no log."""
        (photos / "cache" / "broken").symlink_to("nowhere")
        (photos / "cache" / "loop").symlink_to("..")
        os.mkfifo(photos / "cache" / "pipe")
        with capture_logs() as logs:
            records = walk(photos, exclude=("*",), include=("*.jpg",))
        assert [r for r in records if r.status == "failed"] == []
        assert logs == []

    def test_a_readmitted_file_that_fails_is_reported(self, photos: Path) -> None:
        """A broken link an include re-admits is a failed record, as it would be unfiltered."""
        (photos / "cache" / "broken.jpg").symlink_to("nowhere")
        records = walk(photos, exclude=("*",), include=("*.jpg",))
        [failed] = [r for r in records if r.status == "failed"]
        assert failed.key == "cache/broken.jpg"
        assert "broken symlink" in (failed.error or "")

    def test_an_unreadable_excluded_directory_is_a_warning_not_a_failure(
        self, photos: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A directory searched only for includes that cannot be read is logged; the run is ok."""

        def refuse_cache(path: str) -> None:
            if path.endswith("cache"):
                raise PermissionError(13, "Permission denied", path)

        watch_listings(monkeypatch, refuse_cache)
        with capture_logs() as logs:
            records = walk(photos, exclude=("*",), include=("*.jpg",))
        assert keys(records) == ["2024/a.jpg", "2024/june/b.jpg", "top.jpg"]
        assert [r for r in records if r.status == "failed"] == []
        [warning] = logs
        assert warning["log_level"] == "warning"
        assert warning["path"] == str(photos / "cache")

    def test_an_excluded_listed_directory_is_searched_with_r(self, photos: Path) -> None:
        """--files-from with -r: a listed directory left out is read for what includes re-admit."""
        options = WalkOptions(exclude=("*",), include=("*.jpg",), descend_listed_dirs=True)
        found = iter_files_from([str(photos / "2024")], options)
        assert [r.path for r in found] == [
            str(photos / "2024/a.jpg"),
            str(photos / "2024/june/b.jpg"),
        ]


class TestFilters:
    """The rule on its own, without a file system."""

    @pytest.mark.parametrize(
        ("include", "rel", "reaches"),
        [
            (("*.jpg",), "cache", True),
            (("2024/*.jpg",), "cache", False),
            (("2024/*.jpg",), "2024", True),
            (("2024/june/b.jpg",), "2024", True),
            (("2024/june/*",), "2024/june", True),
            (("2024/june/*",), "2024/may", False),
            (("20*/x",), "2025", True),
            (("2024/*.jpg",), "", True),
            ((), "2024", False),
        ],
    )
    def test_an_include_reaches_below_a_directory_only_where_it_could_match(
        self, include: tuple[str, ...], rel: str, *, reaches: bool
    ) -> None:
        """A slash-free include reaches everywhere; one with a slash only below its fixed start."""
        assert Filters(include, ("*",)).reaches_below(rel) is reaches

    @given(
        patterns=st.lists(st.text(alphabet="ab*?[]!/.", max_size=6), max_size=4),
        name=st.text(alphabet="ab./", max_size=8),
    )
    def test_the_compiled_patterns_match_as_fnmatchcase_does(
        self, patterns: list[str], name: str
    ) -> None:
        """One regular expression for all patterns says what fnmatchcase says for any of them."""
        compiled = Filters((), patterns)
        expected = bool(patterns) and any(fnmatch.fnmatchcase(name, p) for p in patterns)
        assert compiled.excluded(name, name) is expected

    def test_pattern_files_skip_blank_lines_and_comments(self) -> None:
        """One pattern a line, trimmed; blank lines and # comments skipped, as rclone's."""
        lines = ["# photos only\n", "*.jpg\n", "\n", "  *.png  \r\n", "#*.gif\n", "a b\n"]
        assert read_patterns(lines) == ["*.jpg", "*.png", "a b"]


class TestSourcesThatListPaths:
    """Tar members and S3 keys are judged as a walk of the same tree would judge them."""

    @pytest.mark.parametrize("patterns", PATTERN_SETS, ids=PATTERN_IDS)
    def test_keeps_path_agrees_with_the_tree_walk(
        self, photos: Path, patterns: dict[str, tuple[str, ...]]
    ) -> None:
        """For every file of the tree, keeps_path says what the walk did."""
        options = WalkOptions(**patterns)  # type: ignore[arg-type]
        every = keys(walk(photos))
        assert keys(walk(photos, **patterns)) == [k for k in every if options.keeps_path(str(k))]

    @pytest.mark.parametrize("patterns", PATTERN_SETS, ids=PATTERN_IDS)
    def test_tar_members_are_filtered_as_the_tree_is(
        self, photos: Path, tmp_path: Path, patterns: dict[str, tuple[str, ...]]
    ) -> None:
        """A tar of the tree gives the members the walk of the tree gives files (#16)."""
        archive = tmp_path / "photos.tar"
        with tarfile.open(archive, "w") as tar:
            for rel in keys(walk(photos)):
                data = (photos / str(rel)).read_bytes()
                info = tarfile.TarInfo(f"./{rel}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        options = WalkOptions(**patterns)  # type: ignore[arg-type]
        members = [r.key for r in iter_members(str(archive), options)]
        assert sorted(members, key=str) == keys(walk(photos, **patterns))
