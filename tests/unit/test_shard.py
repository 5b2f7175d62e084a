"""``--shard I/N``: N hosts walking one tree take every record exactly once between them."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from s3pput.records import Record, from_json
from s3pput.walk.shard import Shard

WALK = str(Path(sys.executable).parent / "s3pput-walk")


@pytest.mark.parametrize(
    ("text", "why"),
    [("0/3", "between 1 and n"), ("4/3", "between 1 and n"), ("1/0", "between 1 and n"),
     ("2", "not a share"), ("a/b", "not a share"), ("-1/3", "not a share")],
)  # fmt: skip
def test_parse_refuses_what_is_not_a_share(text: str, why: str) -> None:
    """Only I/N with 1 <= I <= N is a share."""
    with pytest.raises(ValueError, match=why):
        Shard.parse(text)


def test_every_key_is_in_exactly_one_share_and_the_shares_are_even() -> None:
    """10,000 keys over 4 shares: each key once, each share within 10% of a quarter."""
    keys = [f"dir{n % 37}/file{n}.txt" for n in range(10_000)]
    shares = [Shard(i, 4) for i in range(1, 5)]
    owners = Counter(
        next(i for i, shard in enumerate(shares) if shard.holds(Record(key=key))) for key in keys
    )
    assert sum(owners.values()) == len(keys)
    assert all(sum(shard.holds(Record(key=key)) for shard in shares) == 1 for key in keys[:500])
    assert all(2250 <= count <= 2750 for count in owners.values()), owners


def test_the_share_of_a_key_never_changes() -> None:
    """Hosts with other Pythons, or a later s3pput, must agree: these values are the contract."""
    placed = {
        key: [i for i in (1, 2, 3) if Shard(i, 3).holds(Record(key=key))]
        for key in ("a", "index.html", "photos/2024/img_0001.jpg", "caf%E9.txt")
    }
    assert placed == {
        "a": [3],
        "index.html": [2],
        "photos/2024/img_0001.jpg": [2],
        "caf%E9.txt": [2],
    }


def test_a_record_without_a_key_is_placed_by_its_path() -> None:
    """Walk's failures have a path: one share reports each."""
    record = Record(path="/src/broken-link", status="failed", stage="walk")
    assert sum(Shard(i, 5).holds(record) for i in range(1, 6)) == 1


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
