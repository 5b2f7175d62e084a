"""Keys: one way to join prefixes and paths, and clear refusals for keys S3 rejects."""

from __future__ import annotations

import os

import pytest

from s3pput.keys import check_key, join_key, key_from_path


class TestJoinKey:
    @pytest.mark.parametrize("prefix", ["www", "www/", "/www", "www//", "/www/"])
    def test_prefix_spellings_are_the_same(self, prefix: str) -> None:
        """`--prefix www` and `--prefix www/` give the same keys, never `//` or a leading `/`."""
        assert join_key(prefix, ["a", "b.txt"]) == "www/a/b.txt"

    def test_no_prefix(self) -> None:
        """Without a prefix the key is the relative path."""
        assert join_key("", [".", "a", "", "b"]) == "a/b"

    def test_undecodable_bytes_become_percent_escapes(self) -> None:
        """A name that is not UTF-8 still gets a valid UTF-8 key."""
        assert join_key("p", [os.fsdecode(b"caf\xe9.txt")]) == "p/caf%E9.txt"

    def test_key_from_path_strips_dot_and_root(self) -> None:
        """`./a/b` and `/a/b` both become `a/b`, as find's output expects."""
        assert key_from_path("./a/b") == "a/b"
        assert key_from_path("/a/b", "x") == "x/a/b"


class TestCheckKey:
    def test_acceptable(self) -> None:
        """Ordinary keys pass."""
        assert check_key("a/b c.txt") is None

    @pytest.mark.parametrize(
        ("key", "why"), [("", "empty"), ("x" * 1025, "1025 bytes"), ("\ud800", "UTF-8")]
    )
    def test_refused(self, key: str, why: str) -> None:
        """Empty, over-long and non-UTF-8 keys are refused before any request."""
        assert why in (check_key(key) or "")
