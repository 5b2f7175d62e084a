"""``--shard I/N``: N hosts walking one tree take every record exactly once between them."""

from __future__ import annotations

from collections import Counter

import pytest

from s3pput.records import Record
from s3pput.walk.shard import Shard


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
