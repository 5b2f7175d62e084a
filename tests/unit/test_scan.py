"""The pieces under walk's speed: a directory's lines at once, and units read ahead in order."""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3pput.records import Record, to_json
from s3pput.walk.lookahead import Inline, Lookahead, Unit
from s3pput.walk.record_lines import FileEntry, file_lines

# Names as os.fsdecode gives them: any bytes but NUL and slash, undecodable ones as surrogates.
names = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b and b"/" not in b)
fs_names = names.map(os.fsdecode)
directories = st.lists(fs_names, max_size=3).map(lambda parts: "".join(f"{p}/" for p in parts))
key_prefixes = st.lists(st.text(min_size=1).filter(lambda t: "/" not in t), max_size=3).map(
    lambda parts: "".join(f"{p}/" for p in parts)
)
stat_files = st.lists(
    st.tuples(
        fs_names,
        st.integers(min_value=0, max_value=2**63),
        st.floats(allow_nan=False, allow_infinity=False),
    ),
    max_size=20,
)


def one_by_one(directory: str, key: str, files: Sequence[FileEntry]) -> bytes:
    """The lines as to_json writes them, a record at a time."""
    records = (
        Record(path=directory + name, key=key + name)
        if size is None or mtime is None
        else Record.of_file(directory + name, key + name, size, mtime)
        for name, size, mtime in files
    )
    return b"".join(map(to_json, records))


def is_utf8(text: str) -> bool:
    """Whether a path needs no path_b64."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def walk_threads_alive() -> bool:
    """Whether a thread of a walk's look-ahead is still running."""
    return any(thread.name.startswith("s3pput-walk-") for thread in threading.enumerate())


def assert_walk_threads_end(seconds: float = 5.0) -> None:
    """Wait up to ``seconds`` for every look-ahead thread to end; fail if one does not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and walk_threads_alive():
        time.sleep(0.01)
    assert not walk_threads_alive()


class TestFileLines:
    @given(directories, key_prefixes, stat_files)
    def test_a_directory_of_lines_is_the_encoders_byte_for_byte(
        self, directory: str, key: str, files: list[FileEntry]
    ) -> None:
        """Lines built together equal to_json's one by one, or are refused for a non-UTF-8 path."""
        lines = file_lines(directory, key, files)
        if all(is_utf8(directory + name) for name, _, _ in files):
            assert lines == one_by_one(directory, key, files)
        else:
            assert lines is None

    @given(directories, key_prefixes, st.lists(fs_names, max_size=20))
    def test_lines_without_sizes_are_the_encoders_too(
        self, directory: str, key: str, listed: list[str]
    ) -> None:
        """--no-stat records (path and key only) are to_json's as well."""
        files: list[FileEntry] = [(name, None, None) for name in listed]
        lines = file_lines(directory, key, files)
        if all(is_utf8(directory + name) for name in listed):
            assert lines == one_by_one(directory, key, files)
        else:
            assert lines is None

    def test_hostile_names_are_escaped_once(self) -> None:
        """Quotes, backslashes, newlines and non-ASCII survive a round trip through JSON."""
        files: list[FileEntry] = [('say "hi"', 1, 1.5), ("back\\slash\n", 2, 2.0), ("é", 3, 0.0)]
        assert file_lines("d/", "k/", files) == one_by_one("d/", "k/", files)

    def test_a_non_utf8_directory_is_refused(self) -> None:
        """A directory path that is not UTF-8 means path_b64: those lines are not built here."""
        directory = os.fsdecode(b"caf\xe9/")
        assert file_lines(directory, "", [("a", 1, 1.0)]) is None
        assert b"path_b64" in one_by_one(directory, "", [("a", 1, 1.0)])
        assert base64.b64encode(b"caf\xe9/a") in one_by_one(directory, "", [("a", 1, 1.0)])


class Node(Unit):
    """A unit of a synthetic tree: ``fanout`` children per level, ``depth`` levels."""

    __slots__ = ("children", "depth", "fanout", "runs", "thread")

    def __init__(self, order: tuple[int, ...], depth: int, fanout: int, runs: list[Node]) -> None:
        super().__init__(order, size=1)
        self.depth = depth
        self.fanout = fanout
        self.runs = runs
        self.children: list[Node] = []
        self.thread = ""

    def run(self) -> Sequence[Unit]:
        """Record the run, wait as a system call would (without the GIL), find the children."""
        self.thread = threading.current_thread().name
        time.sleep(0.0005)
        self.runs.append(self)
        if self.depth > 0:
            self.children = [
                Node((*self.order, n), self.depth - 1, self.fanout, self.runs)
                for n in range(self.fanout)
            ]
        return self.children


class Broken(Unit):
    """A unit whose run fails."""

    def run(self) -> Sequence[Unit]:
        """Fail."""
        raise ValueError("broken unit")


def take_all(source: Inline | Lookahead, root: Node) -> list[tuple[int, ...]]:
    """Take every unit depth-first, as walk does, and return their orders."""
    taken: list[tuple[int, ...]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        source.take(node)
        taken.append(node.order)
        stack.extend(reversed(node.children))
    return taken


def settled(runs: list[Node], expected: int) -> int:
    """How many units have run once ``expected`` have (or 10 s passed), and a while longer."""
    deadline = time.monotonic() + 10
    while len(runs) < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # time enough for a thread to run past the limit, if it would
    return len(runs)


class TestLookahead:
    @pytest.mark.parametrize("threads", [1, 2, 8])
    def test_units_are_taken_in_order_and_each_runs_once(self, threads: int) -> None:
        """Threads or not, the taker sees every unit once, in depth-first order."""
        runs: list[Node] = []
        source = Inline() if threads == 1 else Lookahead(threads)
        try:
            taken = take_all(source, Node((0,), depth=4, fanout=4, runs=runs))
        finally:
            source.close()
        assert taken == sorted(taken)
        assert len(taken) == len(runs) == 1 + 4 + 16 + 64 + 256
        assert len({id(node) for node in runs}) == len(runs)
        if threads > 1:
            assert any(node.thread.startswith("s3pput-walk-") for node in runs)

    def test_threads_run_no_further_ahead_than_the_limit(self) -> None:
        """Untaken, the threads stop after ``limit`` units: memory stays flat however large."""
        runs: list[Node] = []
        source = Lookahead(4, limit=10)
        try:
            root = Node((0,), depth=50, fanout=3, runs=runs)
            source.take(root)
            assert settled(runs, 1 + 10) == 1 + 10
            source.take(root.children[0])
            assert settled(runs, 1 + 10 + 1) == 1 + 10 + 1
        finally:
            source.close()

    def test_a_failure_on_a_thread_is_raised_to_the_taker(self) -> None:
        """What run raised on a thread comes out of take, as from a future."""
        broken = Broken((0, 1), size=1)

        class Parent(Unit):
            def run(self) -> Sequence[Unit]:
                """Find the broken unit."""
                return [broken]

        source = Lookahead(2)
        try:
            source.take(Parent((0,), size=1))
            with pytest.raises(ValueError, match="broken unit"):
                source.take(broken)
        finally:
            source.close()

    def test_close_stops_the_threads(self) -> None:
        """After close, no thread of the look-ahead is left."""
        source = Lookahead(3)
        source.close()
        assert_walk_threads_end()

    def test_before_wait_is_called_before_a_unit_is_waited_for(self) -> None:
        """The writer gets to flush before the taker may block."""
        calls: list[str] = []
        source = Lookahead(1, before_wait=lambda: calls.append("flush"))
        try:
            take_all(source, Node((0,), depth=1, fanout=2, runs=[]))
        finally:
            source.close()
        assert calls
