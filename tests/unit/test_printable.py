"""Text for people: control characters never reach a terminal raw."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3pput.printable import escape_controls


class TestEscapeControls:
    @pytest.mark.parametrize(
        ("text", "shown"),
        [
            ("esc\x1b[31mred", "esc\\x1b[31mred"),
            ("a\nb\rc\td", "a\\nb\\rc\\td"),
            ("nul\x00del\x7f", "nul\\x00del\\x7f"),
            ("csi\x9b31m nel\x85", "csi\\x9b31m nel\\x85"),
            (os.fsdecode(b"raw\x9bbyte"), "raw\\x9bbyte"),
        ],
        ids=["esc", "line-breaks-and-tab", "nul-and-del", "c1", "c1-byte-not-utf8"],
    )
    def test_controls_are_written_as_escapes(self, text: str, shown: str) -> None:
        """ESC, line breaks, DEL and C1 controls (also as raw bytes) come out as visible escapes."""
        assert escape_controls(text) == shown

    @pytest.mark.parametrize(
        "text", ["plain", "caf\N{LATIN SMALL LETTER E WITH ACUTE}", "a b/c", os.fsdecode(b"\xe9")]
    )
    def test_printable_text_is_unchanged(self, text: str) -> None:
        """Names without controls, unicode and undecodable letters included, are left alone."""
        assert escape_controls(text) == text

    @given(st.text())
    def test_no_control_character_is_left(self, text: str) -> None:
        """Whatever the text, the escaped form holds no C0, DEL or C1 character."""
        escaped = escape_controls(text)
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in escaped)  # C0, DEL, C1
