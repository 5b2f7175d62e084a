"""``s3pput-walk --shard I/N`` as a command: N walks of one tree take every record once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from s3pput.records import Record, from_json
from s3pput.walk.shard import Shard

WALK = str(Path(sys.executable).parent / "s3pput-walk")


def walk(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run s3pput-walk to the end."""
    return subprocess.run([WALK, *args], capture_output=True, timeout=60, check=False)


def keys_of(stdout: bytes) -> list[str]:
    """The keys of walk's records."""
    return [str(from_json(line).key) for line in stdout.splitlines()]


def test_three_walks_of_one_tree_cover_it_once(tmp_path: Path) -> None:
    """Shares 1/3, 2/3, 3/3 of a tree: disjoint, and together the whole walk."""
    for n in range(300):
        path = tmp_path / "tree" / f"d{n % 7}" / f"f{n}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(n))
    (tmp_path / "tree" / "broken").symlink_to(tmp_path / "nowhere")
    whole = walk(str(tmp_path / "tree"))
    parts = [walk("--shard", f"{i}/3", str(tmp_path / "tree")) for i in (1, 2, 3)]
    together = [key for part in parts for key in keys_of(part.stdout)]
    assert sorted(together) == sorted(keys_of(whole.stdout))
    assert len(set(together)) == len(together) == 301
    assert all(len(keys_of(part.stdout)) > 60 for part in parts)
    assert sorted(part.returncode for part in parts) == [0, 0, 1]  # one share has the link


def test_limit_counts_records_of_the_share(tmp_path: Path) -> None:
    """--limit 5 with --shard gives five records of that share, not five before sharding."""
    for n in range(100):
        (tmp_path / f"f{n}").write_text(str(n))
    run = walk("--shard", "2/4", "--limit", "5", str(tmp_path))
    keys = keys_of(run.stdout)
    assert len(keys) == 5
    assert all(Shard(2, 4).holds(Record(key=key)) for key in keys)


def test_a_bad_share_is_a_usage_error(tmp_path: Path) -> None:
    """--shard 0/3 exits 2 before walking."""
    run = walk("--shard", "0/3", str(tmp_path))
    assert run.returncode == 2
    assert b"between 1 and n" in run.stderr
    [stop] = [from_json(line) for line in run.stdout.splitlines()]  # a stop record, for stat
    assert (stop.status, stop.stage, stop.extra) == ("failed", "walk", {"fatal": True})
