"""The one command's count ahead: the same walk counted on a thread, for an ETA."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from s3pput.records import Record
from s3pput.walk.batches import FileBatch
from s3pput.walk.count_ahead import CountAhead
from s3pput.walk.local_tree import WalkOptions, iter_batches
from s3pput.walk.totals import total_record


def wait_until_done(ahead: CountAhead) -> None:
    """Wait for the count to end (generously: the machine may be busy)."""
    deadline = time.monotonic() + 60
    while not ahead.done and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ahead.done


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Path:
    """Thirty files of known sizes in three directories, and one thing walk cannot read."""
    for n in range(30):
        folder = tmp_path / "src" / f"d{n % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n}.txt").write_bytes(b"x" * n)
    (tmp_path / "src" / "broken").symlink_to(tmp_path / "nowhere")
    return tmp_path / "src"


def test_counts_what_the_walk_will_yield(tree: Path) -> None:
    """Files and bytes as walk --count would write them, with the same filters."""
    options = WalkOptions(exclude=("d2",))
    ahead = CountAhead(lambda: iter_batches([str(tree)], options)).start()

    wait_until_done(ahead)

    first_pass = total_record(iter_batches([str(tree)], options))
    assert (ahead.files, ahead.bytes) == (first_pass.total_files, first_pass.total_bytes)
    assert (ahead.files, ahead.bytes) == (20, sum(n for n in range(30) if n % 3 != 2))


def test_the_count_logs_nothing(tree: Path) -> None:
    """The walk that uploads reports the broken link; the count must not say it again."""
    with capture_logs() as logs:
        ahead = CountAhead(lambda: iter_batches([str(tree)])).start()
        wait_until_done(ahead)

    assert logs == []


def test_stops_when_asked_and_is_not_done() -> None:
    """A run that ends (or is interrupted) stops the count at the next item."""
    handed: list[int] = []

    def endless() -> Iterator[Record | FileBatch]:
        while True:
            handed.append(1)
            yield Record(path="p", key="k", size=1, mtime=0.0)
            time.sleep(0.001)

    ahead = CountAhead(endless).start()
    deadline = time.monotonic() + 60
    while ahead.files < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    ahead.stop()
    assert ahead.join(60)
    stopped_at = len(handed)
    time.sleep(0.1)

    assert len(handed) == stopped_at
    assert not ahead.done
