"""Two records for one key: the later fails as a duplicate (the table of keys seen, the marking)."""

from __future__ import annotations

from typing import Any

import pytest

from s3pput.put.duplicates import KeyTable, mark_duplicates
from s3pput.records import Record


class TestKeyTable:
    def test_a_key_seen_again_names_its_first_origin(self) -> None:
        """The second add of a key returns where the first came from; new keys return None."""
        table = KeyTable()
        assert table.add("x.txt", "d1/x.txt") is None
        assert table.add("y.txt", "d1/y.txt") is None
        assert table.add("x.txt", "d2/x.txt") == "d1/x.txt"
        assert table.add("x.txt", "d3/x.txt") == "d1/x.txt"
        assert len(table) == 2
        table.close()

    def test_growth_keeps_every_key(self) -> None:
        """From 8 slots to thousands: every key is still found, with its own origin."""
        table = KeyTable(slots=8)
        for n in range(5000):
            assert table.add(f"k/{n}", f"p/{n}") is None
        assert table.slots >= 5000 / 0.7
        for n in range(5000):
            assert table.add(f"k/{n}", "again") == f"p/{n}"
        assert len(table) == 5000
        table.close()

    def test_keys_that_share_a_hash_are_not_taken_for_one(self, monkeypatch: Any) -> None:
        """A hash match is confirmed against the stored key: colliding keys both stay new."""
        import s3pput.put.duplicates as module  # noqa: PLC0415  # patched for this test only

        monkeypatch.setattr(module, "hash", lambda _key: 42, raising=False)
        table = KeyTable(slots=8)
        for n in range(20):
            assert table.add(f"key-{n}", f"origin-{n}") is None
        assert table.add("key-7", "later") == "origin-7"
        assert len(table) == 20
        table.close()

    def test_hash_zero_is_not_an_empty_slot(self, monkeypatch: Any) -> None:
        """A key whose hash is 0 (the empty mark) is still remembered."""
        import s3pput.put.duplicates as module  # noqa: PLC0415  # patched for this test only

        monkeypatch.setattr(module, "hash", lambda _key: 0, raising=False)
        table = KeyTable(slots=8)
        assert table.add("zero", "first") is None
        assert table.add("zero", "second") == "first"
        table.close()

    def test_odd_names_come_back_exactly(self) -> None:
        """Unicode, a lone surrogate and a line break survive the temporary file."""
        table = KeyTable()
        for key, origin in [("caf\u00e9", "caf\udce9.txt"), ("a\nb", "x\ty"), ("\udcff", "")]:
            assert table.add(key, origin) is None
            assert table.add(key, "later") == origin
        table.close()

    def test_memory_per_key_is_flat(self) -> None:
        """A hundred thousand keys cost the arrays at most 40 bytes each."""
        table = KeyTable()
        for n in range(100_000):
            table.add(f"some/dir/file-{n}.txt", f"src/some/dir/file-{n}.txt")
        assert table.memory() / len(table) <= 40
        table.close()

    def test_slots_must_be_a_power_of_two(self) -> None:
        """A table of 6 slots would probe wrongly: refused."""
        with pytest.raises(ValueError, match="power of two"):
            KeyTable(slots=6)


class TestMarkDuplicates:
    def test_the_later_record_in_input_order_fails(self) -> None:
        """Across batches, the first record keeps its key and the later one fails."""
        batches = [
            [Record(path="d1/x.txt", key="x.txt"), Record(path="d1/y.txt", key="y.txt")],
            [Record(path="d2/x.txt", key="x.txt")],
        ]
        out = [
            r
            for batch in mark_duplicates(batches, lambda r: (str(r.key), str(r.path)))
            for r in batch
        ]
        assert [r.status for r in out] == [None, None, "failed"]
        assert out[2].error == "duplicate key (also from d1/x.txt)"
        assert (out[2].path, out[2].key, out[2].stage) == ("d2/x.txt", "x.txt", "put")

    def test_records_without_a_key_are_left_alone(self) -> None:
        """What key_of calls unsendable is neither checked nor remembered."""
        batches = [[Record(key="a"), Record(key="a")]]
        out = next(iter(mark_duplicates(batches, lambda _r: None)))
        assert [r.status for r in out] == [None, None]
