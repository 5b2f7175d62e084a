"""Text for people: control characters escaped, so a name cannot drive the terminal.

A file may be named ``esc\\x1b[31mred``, and S3 keeps such a key. Records
carry it exactly (JSON escapes it); but stat's summary and the console and
logfmt logs are read on terminals, where a raw ESC paints the screen, a CR
overwrites a line and a line break forges one. Everything shown to people
goes through ``escape_controls``. It must not touch what machines read:
records and ``--json`` output keep the exact names.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["escape_controls"]

_CONTROLS: Final = re.compile("[\x00-\x1f\x7f-\x9f\udc80-\udc9f]")
"""C0, DEL and C1 controls, and a C1 byte of a name that is not UTF-8 (a surrogate escape)."""
_NAMED: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SURROGATE_ESCAPE: Final = 0xDC00
"""``os.fsdecode`` turns an undecodable byte B into U+DC00 + B."""


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code - _SURROGATE_ESCAPE if code >= _SURROGATE_ESCAPE else code:02x}"


def escape_controls(text: str) -> str:
    """Return ``text`` with each control character written as ``\\n``, ``\\t`` or ``\\xNN``."""
    return _CONTROLS.sub(_escaped, text) if _CONTROLS.search(text) else text
