"""The installed ``s3pput-walk`` command, run for real in temp dirs and through real pipes."""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from s3pput.records import Record, from_json

WALK = str(Path(sys.executable).parent / "s3pput-walk")
NON_UTF8 = b"caf\xe9"
NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")


def run_walk(
    *args: str | Path, cwd: Path | None = None, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run s3pput-walk to completion, capturing stdout and stderr as bytes."""
    return subprocess.run(
        [WALK, *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=30,
        check=False,
    )


def records_of(stdout: bytes) -> list[Record]:
    """Parse every line of a walk's stdout."""
    return [from_json(line) for line in stdout.split(b"\n") if line]


def keys_of(stdout: bytes) -> list[str | None]:
    """The keys of every record on a walk's stdout, in order."""
    return [r.key for r in records_of(stdout)]


def read_line(stream: IO[bytes] | None, timeout: float = 10) -> bytes:
    """Read one line from a subprocess pipe, failing instead of hanging if none comes."""
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "no output within the timeout"
    return stream.readline()


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Path:
    """A small site with a subdirectory and a nested one."""
    root = tmp_path / "site"
    (root / "css" / "deep").mkdir(parents=True)
    (root / "index.html").write_text("<html>")
    (root / "css" / "a.css").write_text("a{}")
    (root / "css" / "deep" / "b.css").write_text("b{}")
    return root


@pytest.fixture(name="shared_dir")
def fixture_shared_dir() -> Iterator[Path]:
    """A temp dir that an unprivileged user can reach (pytest's tmp dirs are private)."""
    path = Path(tempfile.mkdtemp(prefix="s3pput-walk-"))
    path.chmod(0o755)
    yield path
    for dirpath, _, _ in os.walk(path):
        Path(dirpath).chmod(0o755)
    shutil.rmtree(path)


class TestOutput:
    def test_records_match_the_files_on_disk(self, tree: Path) -> None:
        """Every line parses with from_json into a record whose fields match the file."""
        result = run_walk(tree, "--prefix", "www/")
        assert result.returncode == 0, result.stderr
        assert result.stderr == b""
        records = records_of(result.stdout)
        assert [r.key for r in records] == ["www/css/a.css", "www/css/deep/b.css", "www/index.html"]
        for record in records:
            assert record.path is not None
            info = Path(record.path).stat()
            assert record.size == info.st_size
            assert record.mtime == info.st_mtime
            assert record.status is None

    def test_each_line_is_a_flat_versioned_json_object(self, tree: Path) -> None:
        """Lines are flat JSON objects carrying "s3pput":1 and only the walk fields."""
        lines = run_walk(tree).stdout.splitlines()
        assert len(lines) == 3
        for line in lines:
            obj = json.loads(line)
            assert obj["s3pput"] == 1
            assert set(obj) == {"s3pput", "path", "key", "size", "mtime"}

    def test_single_file_src_is_keyed_by_basename(self, tree: Path) -> None:
        """A SRC that is a file gives one record keyed prefix + basename."""
        result = run_walk(tree / "css" / "a.css", "--prefix", "/assets")
        assert keys_of(result.stdout) == ["assets/a.css"]

    def test_multiple_srcs_and_limit(self, tree: Path) -> None:
        """Several SRCs are walked in order and --limit stops after N files overall."""
        result = run_walk(tree / "index.html", tree / "css", "--limit", "2")
        assert result.returncode == 0
        assert keys_of(result.stdout) == ["index.html", "a.css"]

    def test_an_include_reaches_below_an_excluded_directory(self, tree: Path) -> None:
        """An include re-admits a file below an excluded directory; the rest of it stays out."""
        (tree / "css" / "deep" / "c.css").write_text("c{}")
        result = run_walk(tree, "--exclude", "deep", "--exclude", "*.html", "--include", "b.css")
        assert keys_of(result.stdout) == ["css/a.css", "css/deep/b.css"]

    def test_the_aws_idiom_selects_files_at_every_depth(self, tree: Path) -> None:
        """--exclude '*' --include '*.css', as with aws s3 cp: the .css files at depths 2 and 3."""
        result = run_walk(tree, "--exclude", "*", "--include", "*.css")
        assert result.returncode == 0, result.stderr
        assert keys_of(result.stdout) == ["css/a.css", "css/deep/b.css"]

    def test_help_documents_the_behaviour(self) -> None:
        """--help explains symlinks, failures, patterns, --files-from and exit codes."""
        result = run_walk("--help")
        assert result.returncode == 0
        text = result.stdout.decode()
        for phrase in ("--no-follow-dir-links", "symlink loop", "fifo", "--files-from", "-print0"):
            assert phrase in text
        assert "exit status" in text


class TestUsage:
    @pytest.mark.parametrize(
        ("mode", "source", "says"),
        [("tar", "-", b"reads archive files"), ("s3", "tree", b"every SRC is s3://BUCKET")],
    )
    def test_walk_modes_that_do_not_fit_are_a_usage_error(
        self, tree: Path, mode: str, source: str, says: bytes
    ) -> None:
        """--walk tar cannot read stdin (put reads the archive again); --walk s3 needs s3://."""
        result = run_walk("--walk", mode, tree if source == "tree" else source)
        assert result.returncode == 2
        assert says in result.stderr
        [stop] = [from_json(line) for line in result.stdout.splitlines()]  # a stop record, for stat
        assert (stop.status, stop.stage, stop.extra) == ("failed", "walk", {"fatal": True})

    def test_walk_tar_on_a_directory_is_a_failed_record(self, tree: Path) -> None:
        """Not an archive: one failed walk record saying so, exit 1, no traceback."""
        result = run_walk("--walk", "tar", tree)
        assert result.returncode == 1
        assert b"cannot read tar archive" in result.stdout
        assert b"Traceback" not in result.stderr

    def test_walk_filesystem_is_accepted(self, tree: Path) -> None:
        """--walk filesystem is the default and may be given explicitly."""
        assert run_walk("--walk", "filesystem", tree).returncode == 0

    @pytest.mark.parametrize(
        "args",
        [
            [],
            ["--limit", "-1", "."],
            ["--limit", "many", "."],
            ["--null", "."],
            ["--files-from", "-", "."],
        ],
    )
    def test_bad_flags_exit_2(self, tree: Path, args: list[str]) -> None:
        """Missing SRC, a bad --limit, --null without a list, or SRC with a list exit 2."""
        result = run_walk(*args, cwd=tree)
        assert result.returncode == 2
        [stop] = [from_json(line) for line in result.stdout.splitlines()]  # a stop record, for stat
        assert (stop.status, stop.stage, stop.extra) == ("failed", "walk", {"fatal": True})
        assert b"s3pput-walk: error: " in result.stderr  # the message first, no usage block

    def test_unreadable_list_is_a_fatal_error(self, tmp_path: Path) -> None:
        """A --files-from file that cannot be opened exits 2 with a log line."""
        result = run_walk("--files-from", tmp_path / "missing.txt")
        assert result.returncode == 2
        assert b"cannot read --files-from" in result.stderr


class TestFailures:
    def test_missing_src_fails_and_exits_1(self, tmp_path: Path) -> None:
        """A SRC that does not exist is a failed record on stdout and a warning on stderr."""
        result = run_walk(tmp_path / "nope")
        assert result.returncode == 1
        [record] = records_of(result.stdout)
        assert record.status == "failed"
        assert record.stage == "walk"
        assert b"No such file or directory" in result.stderr

    @pytest.mark.timeout(20)
    def test_fifo_does_not_hang(self, tree: Path) -> None:
        """A fifo is a failed record and the walk finishes."""
        os.mkfifo(tree / "pipe")
        result = run_walk(tree)
        assert result.returncode == 1
        failed = [r for r in records_of(result.stdout) if r.status == "failed"]
        assert [(r.key, r.error) for r in failed] == [("pipe", "not a regular file: fifo")]

    def test_unix_socket_is_a_failed_record(self, tree: Path) -> None:
        """A socket is a failed record."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(tree / "s"))
            result = run_walk(tree)
        assert result.returncode == 1
        assert b"not a regular file: socket" in result.stdout

    def test_broken_symlink_is_a_failed_record(self, tree: Path) -> None:
        """A dangling link is a failed record; the other files still come out."""
        (tree / "broken").symlink_to("gone")
        result = run_walk(tree)
        assert result.returncode == 1
        records = records_of(result.stdout)
        assert len(records) == 4
        assert [r.key for r in records if r.status == "failed"] == ["broken"]

    @pytest.mark.timeout(20)
    def test_directory_symlink_loop_terminates(self, tree: Path) -> None:
        """A link back up the tree is one failed record and the walk ends."""
        (tree / "css" / "deep" / "loop").symlink_to("../..")
        result = run_walk(tree)
        assert result.returncode == 1
        [loop] = [r for r in records_of(result.stdout) if r.status == "failed"]
        assert loop.key == "css/deep/loop"
        assert (loop.error or "").startswith("symlink loop:")

    def test_file_symlink_is_followed(self, tree: Path) -> None:
        """A link to a file is uploaded under the link's key with the target's size."""
        (tree / "alias.css").symlink_to("css/a.css")
        records = records_of(run_walk(tree).stdout)
        [alias] = [r for r in records if r.key == "alias.css"]
        assert alias.size == 3
        assert alias.path == str(tree / "alias.css")

    def test_no_follow_dir_links_skips_with_a_warning(self, tree: Path) -> None:
        """--no-follow-dir-links skips directory links, logs it, and still exits 0."""
        (tree / "styles").symlink_to("css")
        followed = run_walk(tree)
        assert "styles/a.css" in keys_of(followed.stdout)
        result = run_walk(tree, "--no-follow-dir-links")
        assert result.returncode == 0
        assert not any((k or "").startswith("styles") for k in keys_of(result.stdout))
        assert b"skipped symlink to a directory" in result.stderr

    def test_failed_records_do_not_use_up_the_limit(self, tree: Path) -> None:
        """--limit 1 still gives one good record after a failed one."""
        (tree / "a-broken").symlink_to("gone")
        records = records_of(run_walk(tree, "--limit", "1").stdout)
        assert [r.status for r in records] == ["failed", None]

    def test_unreadable_directory_is_a_failed_record(self, shared_dir: Path) -> None:
        """A directory the user may not list is a failed record; the rest is walked."""
        (shared_dir / "open").mkdir()
        (shared_dir / "open" / "f").write_text("x")
        (shared_dir / "locked").mkdir()
        (shared_dir / "locked" / "secret").write_text("x")
        (shared_dir / "locked").chmod(0)
        prefix: tuple[str, ...] = ()
        if os.geteuid() == 0:
            if shutil.which(NOBODY[0]) is None:
                pytest.skip("running as root and setpriv is missing, so mode 000 is readable")
            prefix = NOBODY
        result = subprocess.run(
            [*prefix, WALK, str(shared_dir)], capture_output=True, timeout=30, check=False
        )
        assert result.returncode == 1, result.stderr
        records = records_of(result.stdout)
        assert [(r.key, r.status) for r in records] == [("locked", "failed"), ("open/f", None)]
        assert "Permission denied" in (records[0].error or "")
        assert b"Permission denied" in result.stderr


class TestNames:
    def test_non_utf8_name_round_trips_exactly(self, tmp_path: Path) -> None:
        """path_b64 decodes to the exact bytes of the name and the key gets %XX."""
        raw = os.fsencode(tmp_path) + b"/" + NON_UTF8
        Path(os.fsdecode(raw)).write_text("x")
        result = run_walk(tmp_path)
        assert result.returncode == 0
        obj = json.loads(result.stdout)
        assert "path" not in obj
        assert base64.b64decode(obj["path_b64"]) == raw
        assert obj["key"] == "caf%E9"
        assert b"not UTF-8" in result.stderr

    def test_odd_names_survive(self, tmp_path: Path) -> None:
        """Names with newlines, quotes, backslashes and leading dashes come out intact."""
        names = ["-rf", "line\nbreak", 'say "hi"', "back\\slash", "tab\there"]
        for name in names:
            (tmp_path / name).write_text(name)
        result = run_walk(tmp_path)
        assert result.returncode == 0
        assert len(result.stdout.splitlines()) == len(names)
        assert sorted(keys_of(result.stdout), key=str) == sorted(names)

    def test_src_with_leading_dash_after_double_dash(self, tmp_path: Path) -> None:
        """A SRC named like a flag is walked when it follows --."""
        (tmp_path / "-v").mkdir()
        (tmp_path / "-v" / "f").write_text("x")
        result = run_walk("--", "-v", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        [record] = records_of(result.stdout)
        assert (record.path, record.key) == ("-v/f", "f")


class TestFilesFrom:
    def test_newline_list_on_stdin(self, tree: Path) -> None:
        """Listed files get keys from their normalized paths; listed dirs need -r."""
        listing = b"./index.html\ncss/deep\n"
        result = run_walk("--files-from", "-", "--prefix", "p", cwd=tree, stdin=listing)
        assert result.returncode == 0, result.stderr
        assert keys_of(result.stdout) == ["p/index.html"]
        result = run_walk("--files-from", "-", "-r", "--prefix", "p", cwd=tree, stdin=listing)
        assert keys_of(result.stdout) == ["p/index.html", "p/css/deep/b.css"]

    def test_list_from_a_file(self, tree: Path, tmp_path: Path) -> None:
        """--files-from FILE reads the list from a file."""
        listing = tmp_path / "list.txt"
        listing.write_bytes(b"index.html\n")
        result = run_walk("--files-from", listing, cwd=tree)
        assert keys_of(result.stdout) == ["index.html"]

    def test_find_print0_pipe(self, tree: Path) -> None:
        """Plain find -print0 into --files-from - --null lists each file once, newlines too."""
        (tree / "new\nline").write_text("x")
        find = subprocess.Popen(["find", ".", "-print0"], cwd=tree, stdout=subprocess.PIPE)
        walk = subprocess.run(
            [WALK, "--files-from", "-", "-0"],
            cwd=tree,
            stdin=find.stdout,
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert find.stdout is not None
        find.stdout.close()
        assert find.wait() == 0
        assert walk.returncode == 0, walk.stderr
        expected = ["css/a.css", "css/deep/b.css", "index.html", "new\nline"]
        assert sorted(keys_of(walk.stdout), key=str) == expected

    @pytest.mark.timeout(30)
    def test_first_record_comes_before_the_list_ends(self, tree: Path) -> None:
        """Each listed path is walked as soon as its line arrives, not at end of input."""
        proc = subprocess.Popen(
            [WALK, "--files-from", "-"],
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(b"index.html\n")
            proc.stdin.flush()
            assert from_json(read_line(proc.stdout)).key == "index.html"
            assert proc.poll() is None
            out, err = proc.communicate(b"css/a.css\n", timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert keys_of(out) == ["css/a.css"]
        assert proc.returncode == 0, err


class TestPipes:
    def test_head_closing_the_pipe_exits_0_quietly(self, tmp_path: Path) -> None:
        """s3pput-walk big | head -1 exits 0 with nothing on stderr."""
        for i in range(3000):  # far more output than a pipe buffer holds
            (tmp_path / f"file-{i:05d}.txt").touch()
        walk = subprocess.Popen([WALK, tmp_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = subprocess.run(
            ["head", "-1"], stdin=walk.stdout, capture_output=True, timeout=30, check=False
        )
        assert walk.stdout is not None
        walk.stdout.close()
        _, err = walk.communicate(timeout=30)
        assert from_json(head.stdout).key == "file-00000.txt"
        assert walk.returncode == 0
        assert err == b""

    def test_jq_in_the_middle_keeps_path_b64(self, tmp_path: Path) -> None:
        """Lines that passed through jq -c . still decode to the exact local bytes."""
        raw = os.fsencode(tmp_path) + b"/" + NON_UTF8
        Path(os.fsdecode(raw)).write_text("x")
        (tmp_path / "plain.txt").write_text("x")
        walk = subprocess.Popen([WALK, tmp_path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        jq = subprocess.run(
            ["jq", "-c", "."], stdin=walk.stdout, capture_output=True, timeout=30, check=False
        )
        assert walk.stdout is not None
        walk.stdout.close()
        walk.communicate(timeout=30)
        assert jq.returncode == 0, jq.stderr
        records = records_of(jq.stdout)
        assert [os.fsencode(r.path or "") for r in records] == [
            raw,
            os.fsencode(tmp_path / "plain.txt"),
        ]
        assert [r.key for r in records] == ["caf%E9", "plain.txt"]

    @pytest.mark.timeout(30)
    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
    def test_interrupt_exits_130_without_traceback(self, tree: Path, signum: int) -> None:
        """SIGTERM or Ctrl-C while waiting for input exits 130 with no traceback."""
        proc = subprocess.Popen(
            [WALK, "--files-from", "-"],
            cwd=tree,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(b"index.html\n")
            proc.stdin.flush()
            read_line(proc.stdout)
            proc.send_signal(signum)
            _, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 130
        assert b"Traceback" not in err


@pytest.mark.parametrize(
    "command",
    ["s3pput-walk .", "s3pput-put --bucket b", "s3pput-stat", "s3pput --bucket b ."],
)
def test_a_closed_stdout_is_a_usage_error_not_a_traceback(command: str, tmp_path: Path) -> None:
    """`cmd >&-`: every command says its output is closed and exits 2."""
    bindir = Path(sys.executable).parent
    done = subprocess.run(
        ["bash", "-c", f"{bindir}/{command} >&- </dev/null"],
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"standard output is closed" in done.stderr
    assert b"Traceback" not in done.stderr


class TestWalkThreads:
    def test_any_number_of_threads_writes_the_same_bytes(self, shared_dir: Path) -> None:
        """--walk-threads 1, 2 and 8 give identical output, an unreadable directory included."""
        for n in range(400):
            path = shared_dir / f"d{n % 9}" / f"e{n % 4}" / f"f{n:03d}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("x" * n)
        (shared_dir / "d3" / "broken").symlink_to("nowhere")
        (shared_dir / "d4" / "loop").symlink_to("..")
        os.mkfifo(shared_dir / "d5" / "pipe")
        (shared_dir / "d6" / "e1").chmod(0)
        prefix: tuple[str, ...] = ()
        if os.geteuid() == 0:
            if shutil.which(NOBODY[0]) is None:
                pytest.skip("running as root and setpriv is missing, so mode 000 is readable")
            prefix = NOBODY
        runs = {
            threads: subprocess.run(
                [*prefix, WALK, "--walk-threads", str(threads), "--prefix", "p", str(shared_dir)],
                capture_output=True,
                timeout=60,
                check=False,
            )
            for threads in (1, 2, 8)
        }
        one = runs[1]
        assert one.returncode == 1, one.stderr
        failed = [r for r in records_of(one.stdout) if r.status == "failed"]
        assert [r.key for r in failed] == ["p/d3/broken", "p/d4/loop", "p/d5/pipe", "p/d6/e1"]
        assert "Permission denied" in (failed[-1].error or "")
        assert len(records_of(one.stdout)) == 400 - 400 // 36 + 4
        for threads in (2, 8):
            assert runs[threads].returncode == 1
            assert runs[threads].stdout == one.stdout, threads

    def test_a_thread_count_below_one_is_a_usage_error(self, tree: Path) -> None:
        """--walk-threads 0 exits 2."""
        result = run_walk("--walk-threads", "0", tree)
        assert result.returncode == 2
        assert b"s3pput-walk: error: " in result.stderr  # the message first, no usage block

    def test_help_explains_threads_and_no_stat(self) -> None:
        """--help says what --walk-threads and --no-stat are for."""
        text = run_walk("--help").stdout.decode()
        assert "--walk-threads N" in text
        assert "network file system" in text
        assert "--no-stat" in text


class TestNoStat:
    def test_lines_have_path_and_key_only(self, tree: Path) -> None:
        """--no-stat writes no size and no mtime, and the same keys in the same order."""
        result = run_walk("--no-stat", tree)
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [set(line) for line in lines] == [{"s3pput", "path", "key"}] * 3
        assert keys_of(result.stdout) == keys_of(run_walk(tree).stdout)

    def test_count_needs_sizes(self, tree: Path) -> None:
        """--count adds up sizes, so --count --no-stat is a usage error."""
        result = run_walk("--count", "--no-stat", tree)
        assert result.returncode == 2
        assert b"--no-stat" in result.stderr
