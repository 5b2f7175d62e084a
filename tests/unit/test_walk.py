"""The walk core, through its iterators: keys, order, patterns, limits, symlinks, failures."""

from __future__ import annotations

import gc
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs
from test_scan import assert_walk_threads_end

from s3pput.records import Record, from_json, to_json
from s3pput.walk.local_tree import WalkOptions, iter_files, iter_files_from, split_paths
from s3pput.walk.shard import Shard

NON_UTF8 = b"caf\xe9"


def walk(*sources: Path | str, **options: object) -> list[Record]:
    """Walk sources (as str paths) with the given options and collect every record."""
    return list(iter_files([str(s) for s in sources], WalkOptions(**options)))  # type: ignore[arg-type]


def keys_of(records: list[Record]) -> list[str | None]:
    """The keys of records, in order."""
    return [r.key for r in records]


def failures(records: list[Record]) -> list[Record]:
    """Only the failed records."""
    return [r for r in records if r.status == "failed"]


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Path:
    """A small site: files at the top, in a subdirectory and two levels down."""
    root = tmp_path / "site"
    (root / "css" / "deep").mkdir(parents=True)
    (root / "index.html").write_text("<html>")
    (root / "css" / "a.css").write_text("a{}")
    (root / "css" / "deep" / "b.css").write_text("b{}")
    (root / "z.txt").write_text("z")
    return root


class TestKeys:
    def test_key_is_path_relative_to_src(self, tree: Path) -> None:
        """Each file's key is its path below SRC, joined with slashes, sorted by name."""
        assert keys_of(walk(tree)) == ["css/a.css", "css/deep/b.css", "index.html", "z.txt"]

    def test_path_is_src_joined_with_relative_path(self, tree: Path) -> None:
        """The path is what the user would open: SRC joined with the relative path."""
        records = walk(tree)
        assert records[0].path == f"{tree}/css/a.css"

    def test_prefix_with_or_without_slash_is_the_same(self, tree: Path) -> None:
        """--prefix www and --prefix www/ (and /www//) give the same keys."""
        expected = keys_of(walk(tree, prefix="www"))
        assert expected[0] == "www/css/a.css"
        assert keys_of(walk(tree, prefix="www/")) == expected
        assert keys_of(walk(tree, prefix="/www//")) == expected

    def test_nested_prefix_keeps_its_parts(self, tree: Path) -> None:
        """A prefix with several parts joins with single slashes."""
        assert walk(tree / "z.txt", prefix="a/b/")[0].key == "a/b/z.txt"

    def test_src_with_trailing_slash_gives_same_keys(self, tree: Path) -> None:
        """A trailing slash on SRC changes neither keys nor doubles slashes in paths."""
        records = walk(f"{tree}/")
        assert keys_of(records) == keys_of(walk(tree))
        assert all("//" not in (r.path or "") for r in records)

    def test_file_src_key_is_prefix_and_basename(self, tree: Path) -> None:
        """A SRC that is a file is keyed by its basename under the prefix."""
        [record] = walk(tree / "css" / "a.css", prefix="www")
        assert record.key == "www/a.css"
        assert record.path == str(tree / "css" / "a.css")

    def test_size_and_mtime_come_from_stat(self, tree: Path) -> None:
        """Size and mtime are the file's st_size and st_mtime."""
        os.utime(tree / "z.txt", (1_600_000_000.5, 1_600_000_000.5))
        [record] = walk(tree / "z.txt")
        assert record.size == 1
        assert record.mtime == 1_600_000_000.5

    def test_dot_src_gives_relative_keys(self, tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Walking . gives keys without ./ and paths starting with ./."""
        monkeypatch.chdir(tree)
        records = walk(".")
        assert records[0].key == "css/a.css"
        assert records[0].path == "./css/a.css"


class TestSources:
    def test_multiple_srcs_are_walked_in_order(self, tree: Path) -> None:
        """Several SRCs are walked one after another, in the order given."""
        records = walk(tree / "z.txt", tree / "css", prefix="p")
        assert keys_of(records) == ["p/z.txt", "p/a.css", "p/deep/b.css"]

    def test_missing_src_is_a_failed_record(self, tmp_path: Path, tree: Path) -> None:
        """A SRC that does not exist becomes a failed record and the walk goes on."""
        missing = tmp_path / "nope"
        records = walk(missing, tree / "z.txt")
        assert records[0].status == "failed"
        assert records[0].stage == "walk"
        assert records[0].path == str(missing)
        assert "No such file or directory" in (records[0].error or "")
        assert records[1].key == "z.txt"

    def test_empty_directory_gives_nothing(self, tmp_path: Path) -> None:
        """An empty directory yields no records at all."""
        assert walk(tmp_path) == []


class TestPatterns:
    def test_exclude_matches_basename(self, tree: Path) -> None:
        """An exclude pattern matching a file's name leaves it out, at any depth."""
        assert keys_of(walk(tree, exclude=("*.css",))) == ["index.html", "z.txt"]

    def test_exclude_matches_relative_path(self, tree: Path) -> None:
        """An exclude pattern can match the path relative to SRC."""
        assert "css/deep/b.css" not in keys_of(walk(tree, exclude=("css/deep/*",)))

    def test_include_readmits_excluded_files(self, tree: Path) -> None:
        """A file matching an include is kept even though an exclude matches it."""
        keys = keys_of(walk(tree, exclude=("*.css",), include=("b.*",)))
        assert keys == ["css/deep/b.css", "index.html", "z.txt"]

    def test_include_alone_filters_nothing(self, tree: Path) -> None:
        """As in s3-parallel-put, --include only overrides --exclude."""
        assert keys_of(walk(tree, include=("*.html",))) == keys_of(walk(tree))

    def test_includes_reach_inside_an_excluded_directory(self, tree: Path) -> None:
        """An include re-admits files below an excluded directory (#16); the rest stays out."""
        (tree / "css" / "broken").symlink_to("nowhere")
        (tree / "css" / "deep" / "notes.txt").write_text("n")
        records = walk(tree, exclude=("css",), include=("*.css",))
        assert keys_of(records) == ["css/a.css", "css/deep/b.css", "index.html", "z.txt"]

    def test_included_directory_is_descended(self, tree: Path) -> None:
        """A directory that matches an include as well as an exclude is still walked."""
        keys = keys_of(walk(tree, exclude=("*",), include=("css", "deep", "*.css")))
        assert keys == ["css/a.css", "css/deep/b.css"]

    def test_excluded_special_files_are_silent(self, tree: Path) -> None:
        """Excluding a fifo means no failed record for it."""
        os.mkfifo(tree / "pipe")
        assert failures(walk(tree, exclude=("pipe",))) == []


class TestLimit:
    def test_limit_stops_after_n_files(self, tree: Path) -> None:
        """--limit N yields the first N file records."""
        assert keys_of(walk(tree, limit=2)) == ["css/a.css", "css/deep/b.css"]

    def test_limit_zero_yields_nothing(self, tree: Path) -> None:
        """--limit 0 walks nothing."""
        assert walk(tree, limit=0) == []

    def test_failed_records_do_not_count_toward_limit(self, tree: Path) -> None:
        """Failed records pass through without using up the limit."""
        (tree / "a-broken").symlink_to("nowhere")
        records = walk(tree, limit=1)
        assert [r.status for r in records] == ["failed", None]
        assert records[1].key == "css/a.css"

    def test_limit_spans_all_srcs(self, tree: Path) -> None:
        """The limit counts across SRCs, not per SRC."""
        assert keys_of(walk(tree / "z.txt", tree / "css", limit=2)) == ["z.txt", "a.css"]

    def test_limit_stops_the_walk_itself(self, tree: Path) -> None:
        """Once the limit is reached no further entry is even looked at."""
        os.mkfifo(tree / "zz-fifo")
        assert failures(walk(tree, limit=4)) == []


class TestStreaming:
    def test_first_record_comes_before_later_directories_are_listed(self, tree: Path) -> None:
        """The walk is lazy: a file added to a later directory after the first record shows up."""
        (tree / "zz").mkdir()
        records = iter_files([str(tree)])
        first = next(records)
        assert first.key == "css/a.css"
        (tree / "zz" / "late.txt").write_text("late")
        assert "zz/late.txt" in keys_of(list(records))

    def test_deep_tree_does_not_hit_recursion_limit(self, tmp_path: Path) -> None:
        """Depth is not bounded by Python's recursion limit (an explicit stack)."""
        depth = sys.getrecursionlimit() + 50
        deep = tmp_path
        for _ in range(depth):  # mkdir(parents=True) recurses, so build it level by level
            deep /= "d"
            deep.mkdir()
        (deep / "f").write_text("x")
        try:
            [record] = walk(tmp_path)
            assert record.key == "/".join(["d"] * depth + ["f"])
        finally:  # shutil.rmtree (and so pytest's cleanup) recurses too: unbuild it
            (deep / "f").unlink()
            for _ in range(depth):
                deep.rmdir()
                deep = deep.parent


class TestSymlinks:
    def test_file_symlink_is_followed(self, tree: Path) -> None:
        """A link to a file gives the link's path and key and the target's size."""
        (tree / "link.html").symlink_to("index.html")
        [record] = [r for r in walk(tree) if r.key == "link.html"]
        assert record.path == str(tree / "link.html")
        assert record.size == len("<html>")
        assert record.status is None

    def test_dir_symlink_is_followed(self, tree: Path) -> None:
        """A link to a directory is walked like the directory, keyed under the link's name."""
        (tree / "styles").symlink_to("css")
        keys = keys_of(walk(tree))
        assert "styles/a.css" in keys
        assert "styles/deep/b.css" in keys

    def test_dir_symlink_loop_is_a_failed_record(self, tree: Path) -> None:
        """A link back to a directory being walked fails once and is not descended."""
        (tree / "css" / "up").symlink_to("..")
        records = walk(tree)
        [loop] = failures(records)
        assert loop.key == "css/up"
        assert (loop.error or "").startswith("symlink loop:")
        assert len(records) == 5

    def test_no_follow_dir_links_skips_with_warning(self, tree: Path) -> None:
        """With follow_dir_links off a directory link is skipped and logged, not failed."""
        (tree / "styles").symlink_to("css")
        with capture_logs() as logs:
            records = walk(tree, follow_dir_links=False)
        assert not any((r.key or "").startswith("styles/") for r in records)
        assert failures(records) == []
        [warning] = [e for e in logs if e["event"] == "skipped symlink to a directory"]
        assert warning["path"] == str(tree / "styles")
        assert warning["log_level"] == "warning"

    def test_no_follow_dir_links_still_follows_file_links(self, tree: Path) -> None:
        """Only directory links are skipped; file links are still followed."""
        (tree / "zlink").symlink_to("z.txt")
        assert "zlink" in keys_of(walk(tree, follow_dir_links=False))

    def test_symlinked_src_is_followed(self, tree: Path, tmp_path: Path) -> None:
        """A SRC that is a link to a directory is walked even without following dir links."""
        (tmp_path / "alias").symlink_to(tree)
        records = walk(tmp_path / "alias", follow_dir_links=False)
        assert keys_of(records) == keys_of(walk(tree))

    def test_broken_symlink_is_a_failed_record(self, tree: Path) -> None:
        """A link to nothing is a failed record naming its target."""
        (tree / "broken").symlink_to("missing-target")
        [record] = failures(walk(tree))
        assert record.path == str(tree / "broken")
        assert record.key == "broken"
        assert (record.error or "").startswith("broken symlink:")
        assert "missing-target" in (record.error or "")

    def test_self_referencing_symlink_is_a_failed_record(self, tree: Path) -> None:
        """A link that points at itself fails as a symlink loop instead of erroring out."""
        (tree / "self").symlink_to("self")
        [record] = failures(walk(tree))
        assert (record.error or "").startswith("symlink loop:")


class TestSpecialFiles:
    @pytest.mark.timeout(10)
    def test_fifo_is_a_failed_record_and_does_not_hang(self, tree: Path) -> None:
        """A fifo is never opened: it becomes a failed record."""
        os.mkfifo(tree / "pipe")
        [record] = failures(walk(tree))
        assert record.error == "not a regular file: fifo"
        assert record.key == "pipe"

    def test_socket_is_a_failed_record(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A unix socket becomes a failed record."""
        monkeypatch.chdir(tmp_path)
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("sock")
            [record] = walk(tmp_path)
        assert record.error == "not a regular file: socket"

    def test_device_is_a_failed_record(self, tmp_path: Path) -> None:
        """A character device (through a followed link) becomes a failed record."""
        (tmp_path / "null").symlink_to(os.devnull)
        [record] = walk(tmp_path)
        assert record.error == "not a regular file: character device"

    def test_failed_records_are_logged(self, tree: Path) -> None:
        """Every failed record is also a warning log line naming the path and error."""
        os.mkfifo(tree / "pipe")
        with capture_logs() as logs:
            walk(tree)
        [event] = [e for e in logs if e["event"] == "failed"]
        assert event["log_level"] == "warning"
        assert event["stage"] == "walk"
        assert event["path"] == str(tree / "pipe")
        assert event["error"] == "not a regular file: fifo"


class TestNonUTF8Names:
    def test_path_travels_exactly_and_key_is_escaped(self, tmp_path: Path) -> None:
        """A name that is not UTF-8 keeps its exact bytes in path and gets %XX in its key."""
        raw = os.fsencode(tmp_path) + b"/" + NON_UTF8
        Path(os.fsdecode(raw)).write_text("x")
        [record] = walk(tmp_path)
        assert record.key == "caf%E9"
        assert os.fsencode(record.path or "") == raw
        assert b'"path_b64"' in to_json(record)

    def test_non_utf8_name_warns_once_per_file(self, tmp_path: Path) -> None:
        """Each such file is logged once as a warning."""
        Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + NON_UTF8)).write_text("x")
        Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + b"na\xefve")).write_text("x")
        (tmp_path / "plain").write_text("x")
        with capture_logs() as logs:
            walk(tmp_path)
        warnings = [e for e in logs if "not UTF-8" in e["event"]]
        assert [w["key"] for w in warnings] == ["caf%E9", "na%EFve"]


class TestSplitPaths:
    def test_newline_separated_paths(self) -> None:
        """Paths are split at newlines; empty lines are skipped."""
        assert list(split_paths([b"a\n\nb/c\n"])) == ["a", "b/c"]

    def test_nul_separated_paths_may_contain_newlines(self) -> None:
        """With null, paths split at NUL, so a newline is part of a name."""
        assert list(split_paths([b"a\nb\0c\0"], null=True)) == ["a\nb", "c"]

    def test_paths_split_across_chunks(self) -> None:
        """A path cut across reads is joined back; a last path without separator counts."""
        assert list(split_paths([b"ab", b"c\nd", b"e"])) == ["abc", "de"]

    def test_paths_come_out_as_soon_as_they_end(self) -> None:
        """Each path is yielded before the next chunk is read."""
        read: list[bytes] = []

        def chunks() -> Iterator[bytes]:
            for chunk in (b"first\nsec", b"ond\n"):
                read.append(chunk)
                yield chunk

        paths = split_paths(chunks())
        assert next(paths) == "first"
        assert read == [b"first\nsec"]

    def test_non_utf8_bytes_are_surrogate_escaped(self) -> None:
        """Undecodable bytes become surrogate escapes, as os.fsdecode gives them."""
        assert list(split_paths([NON_UTF8 + b"\n"])) == [os.fsdecode(NON_UTF8)]


class TestFilesFrom:
    def test_listed_file_key_is_normalized_path(
        self, tree: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A listed ./a/b gives key prefix + a/b and keeps the listed path."""
        monkeypatch.chdir(tree)
        records = list(iter_files_from(["./css/a.css", "z.txt"], WalkOptions(prefix="www/")))
        assert keys_of(records) == ["www/css/a.css", "www/z.txt"]
        assert records[0].path == "./css/a.css"

    def test_absolute_listed_path_loses_leading_slash_in_key(self, tree: Path) -> None:
        """A listed absolute path gives a key without the leading slash."""
        [record] = iter_files_from([str(tree / "z.txt")])
        assert record.key == str(tree / "z.txt").lstrip("/")

    def test_listed_directory_is_walked_under_its_path(
        self, tree: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With descend_listed_dirs, a listed directory is walked under its listed path."""
        monkeypatch.chdir(tree)
        assert list(iter_files_from(["./css/"], WalkOptions(prefix="p"))) == []
        options = WalkOptions(prefix="p", descend_listed_dirs=True)
        records = list(iter_files_from(["./css/"], options))
        assert keys_of(records) == ["p/css/a.css", "p/css/deep/b.css"]
        assert records[0].path == "./css/a.css"

    def test_listed_paths_are_consumed_lazily(self, tree: Path) -> None:
        """The record for the first path comes before the second path is read."""
        consumed: list[str] = []

        def paths() -> Iterator[str]:
            for path in (str(tree / "z.txt"), str(tree / "index.html")):
                consumed.append(path)
                yield path

        records = iter_files_from(paths())
        assert next(records).path == str(tree / "z.txt")
        assert consumed == [str(tree / "z.txt")]

    def test_missing_listed_path_is_a_failed_record(self, tmp_path: Path) -> None:
        """A listed path that does not exist fails with a key and the walk goes on."""
        [record] = iter_files_from([str(tmp_path / "gone")])
        assert record.status == "failed"
        assert record.key == str(tmp_path / "gone").lstrip("/")

    def test_patterns_apply_to_listed_paths(self, tree: Path) -> None:
        """Excludes match a listed path's name or normalized path."""
        listed = [str(tree / "z.txt"), str(tree / "css")]
        records = list(
            iter_files_from(listed, WalkOptions(exclude=("z.*", "deep"), descend_listed_dirs=True))
        )
        assert [r.path for r in records] == [str(tree / "css" / "a.css")]

    def test_limit_applies_to_listed_paths(self, tree: Path) -> None:
        """--limit counts files from the list too."""
        listed = [str(tree / "z.txt"), str(tree / "index.html")]
        assert len(list(iter_files_from(listed, WalkOptions(limit=1)))) == 1


class TestRecordContract:
    def test_every_record_round_trips_through_json(self, tree: Path) -> None:
        """Every record, failed or odd-named, comes back unchanged from its JSON line."""
        (tree / "broken").symlink_to("nowhere")
        os.mkfifo(tree / "pipe")
        Path(os.fsdecode(os.fsencode(tree) + b"/" + NON_UTF8)).write_text("x")
        (tree / 'new\nline "quoted"').write_text("x")
        records = walk(tree, prefix="www")
        assert len(records) == 8
        assert [from_json(to_json(r)) for r in records] == records


@pytest.fixture(name="mixed")
def fixture_mixed(tmp_path: Path) -> Path:
    """A tree with everything a walk meets: big and nested directories, links, failures."""
    root = tmp_path / "mixed"
    big = root / "big"
    big.mkdir(parents=True)
    for n in range(300):  # more than one chunk, with directories between the files
        (big / f"f{n:03d}.txt").write_text("x" * (n % 7))
        if n % 97 == 0:
            (big / f"f{n:03d}.dir" / "inner").mkdir(parents=True)
            (big / f"f{n:03d}.dir" / "inner" / "deep.txt").write_text("deep")
    for n in range(40):
        (root / "many" / f"d{n:02d}").mkdir(parents=True)
        (root / "many" / f"d{n:02d}" / "f.css").write_text("a{}")
    (root / "big" / "f150.link").symlink_to("f001.txt")
    (root / "big" / "f151.broken").symlink_to("nowhere")
    (root / "many" / "d05" / "up").symlink_to("..")
    (root / "many" / "d06" / "self").symlink_to("self")
    (root / "styles").symlink_to("many")
    os.mkfifo(root / "big" / "f152.fifo")
    Path(os.fsdecode(os.fsencode(root / "big") + b"/f153-" + NON_UTF8)).write_text("x")
    odd = Path(os.fsdecode(os.fsencode(root) + b"/" + NON_UTF8 + b"-dir"))
    odd.mkdir()
    (odd / "inside.txt").write_text("x")
    (root / 'z "quoted"\nname').write_text("x")
    return root


def walk_logged(
    sources: list[str], options: WalkOptions
) -> tuple[list[Record], list[tuple[str, object, object]]]:
    """Walk, returning the records and the log events (event, path, error) in order."""
    with capture_logs() as logs:
        records = list(iter_files(sources, options))
    return records, [(e["event"], e.get("path"), e.get("error")) for e in logs]


class TestThreads:
    @pytest.mark.parametrize(
        "options",
        [
            {},
            {"exclude": ("*.css", "d1*"), "include": ("d12",)},
            {"exclude": ("*",), "include": ("*.css", "deep.*")},
            {"follow_dir_links": False},
            {"limit": 150},
            {"shard": Shard(2, 3)},
            {"stat_files": False},
            {"prefix": "www", "limit": 290, "exclude": ("f2*",)},
        ],
        ids=[
            "plain",
            "patterns",
            "aws-idiom",
            "no-dir-links",
            "limit",
            "shard",
            "no-stat",
            "mixed",
        ],
    )
    def test_output_and_logs_are_the_same_for_any_number_of_threads(
        self, mixed: Path, options: dict[str, object]
    ) -> None:
        """1, 2 or 8 threads: the same records and the same log lines, in the same order."""
        expected = walk_logged([str(mixed)], WalkOptions(**options))  # type: ignore[arg-type]
        assert len(expected[0]) > 30
        for threads in (2, 8):
            opts = WalkOptions(**options, walk_threads=threads)  # type: ignore[arg-type]
            assert walk_logged([str(mixed)], opts) == expected

    def test_the_walk_meets_everything_the_tree_has(self, mixed: Path) -> None:
        """The tree above gives files, failures of each kind and a warning: a fair test."""
        records, logs = walk_logged([str(mixed)], WalkOptions(walk_threads=4))
        errors = [r.error or "" for r in failures(records)]
        for kind in ("broken symlink", "symlink loop", "not a regular file: fifo"):
            assert any(e.startswith(kind) for e in errors), kind
        assert any("not UTF-8" in event for event, _, _ in logs)
        keys = keys_of(records)
        assert "big/f097.dir/inner/deep.txt" in keys
        assert "styles/d00/f.css" in keys
        assert keys[keys.index("big/f096.txt") + 1] == "big/f097.dir/inner/deep.txt"

    def test_files_from_with_threads_gives_the_same_records(self, mixed: Path) -> None:
        """Listed directories (-r) walked on threads give what one thread gives."""
        listed = [str(mixed / "many"), str(mixed / "big" / "f001.txt"), str(mixed / "big")]
        one = list(iter_files_from(listed, WalkOptions(descend_listed_dirs=True)))
        eight = WalkOptions(descend_listed_dirs=True, walk_threads=8)
        assert list(iter_files_from(listed, eight)) == one

    def test_stopping_early_stops_the_threads(self, mixed: Path) -> None:
        """A walk left after its first record lets its threads go."""
        records = iter_files([str(mixed)], WalkOptions(walk_threads=4))
        next(records)
        del records  # the generator is closed, as when a consumer stops reading
        gc.collect()
        assert_walk_threads_end()


class TestNoStat:
    def test_records_carry_path_and_key_only(self, tree: Path) -> None:
        """Without stat, a file record has no size and no mtime; put reads them itself."""
        records = walk(tree, stat_files=False)
        assert keys_of(records) == keys_of(walk(tree))
        assert all(r.size is None and r.mtime is None for r in records)
        assert to_json(records[0]) == (
            b'{"s3pput":1,"path":"%s/css/a.css","key":"css/a.css"}\n' % os.fsencode(tree)
        )

    def test_what_is_not_a_plain_file_is_still_found_out(self, tree: Path) -> None:
        """Fifos, broken links and loops still fail; links to files and directories are followed."""
        os.mkfifo(tree / "pipe")
        (tree / "broken").symlink_to("nowhere")
        (tree / "link.html").symlink_to("index.html")
        (tree / "styles").symlink_to("css")
        records = walk(tree, stat_files=False)
        assert [(r.key, (r.error or "").split(":")[0]) for r in failures(records)] == [
            ("broken", "broken symlink"),
            ("pipe", "not a regular file"),
        ]
        keys = keys_of(records)
        assert "link.html" in keys
        assert "styles/deep/b.css" in keys

    def test_a_named_file_has_no_size_either(self, tree: Path) -> None:
        """A SRC that is a file is written the same way."""
        [record] = walk(tree / "z.txt", stat_files=False)
        assert (record.key, record.size, record.mtime) == ("z.txt", None, None)
