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

    @pytest.mark.parametrize(
        ("key", "why"),
        [
            ("k/", "ends with '/'"),
            ("/k/a", "starts with '/'"),
            ("/", "starts with '/'"),
            ("k//a", "empty segment"),
            ("a/./b", "'.' segment"),
            ("a/../b", "'..' segment"),
            ("./a", "'.' segment"),
            ("a/..", "'..' segment"),
        ],
    )
    def test_keys_a_store_rewrites_are_refused(self, key: str, why: str) -> None:
        """A key the store would keep under another name (or none) fails, saying how."""
        assert why in (check_key(key) or "")

    @pytest.mark.parametrize("key", ["a/.b", "a/b.", "a/...", "..a/b", "a/b..c", "a%2F..%2Fb"])
    def test_dots_inside_a_name_are_fine(self, key: str) -> None:
        """Only whole '.' and '..' segments are path syntax; dots in names are not."""
        assert check_key(key) is None

    @pytest.mark.parametrize("key", ["a\nb", "a\tb", "esc\x1b[31mred", "a\x7fb", "a\x9bb"])
    def test_control_characters_pass_by_default_and_fail_when_refused(self, key: str) -> None:
        """Legal S3 keys go up by default; refusing them names the character and the flag."""
        assert check_key(key) is None
        refused = check_key(key, control_ok=False) or ""
        assert "control character U+00" in refused
        assert "--refuse-control-keys" in refused
