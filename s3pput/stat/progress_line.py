"""The live progress line: one status line redrawn in place on a terminal, never cut short.

The line is a list of fields in a fixed order. When the terminal is too
narrow for all of them, whole fields are left out, the least important
first, so what matters most (how far the run is, how many failed, when it
ends) is what stays; cutting the text at the width would lose the end of
the line, which is where the failed count and the ETA are. The width is read
again at every redraw, so a resized terminal gets a line that fits. Other
stages' log lines wipe this line before they are written (``log.py``); the
next redraw puts it back below them. This module must not know where the
summary comes from.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TextIO

from s3pput.stat.summary import Summary, human_bytes

__all__ = ["ProgressLine", "format_progress", "terminal_width"]

_CLEAR_TO_END: Final = "\x1b[K"
_SEPARATOR: Final = ", "


@dataclass(frozen=True)
class _Field:
    text: str
    rank: int
    """Importance: 0 is kept longest; a narrow terminal drops the highest ranks first."""


def _fields(summary: Summary) -> list[_Field]:
    """Every field the line can show, in the order they are shown."""
    eta = summary.eta
    fields = [
        _Field(_done(summary), 0),
        _Field(f"{summary.uploaded} uploaded", 7),
        _Field(f"{summary.skipped} skipped", 8) if summary.skipped else None,
        _Field(human_bytes(summary.bytes), 6),
        _Field(f"{summary.files_per_second:.1f} files/s", 9),
        _Field(f"{human_bytes(summary.bytes_per_second)}/s", 5),
        _Field(f"{summary.failed_not_interrupted} failed", 1),
        _Field(f"{summary.interrupted} interrupted", 3) if summary.interrupted else None,
        _Field(f"{summary.invalid} invalid", 4) if summary.invalid else None,
        None if eta is None else _Field(f"ETA {_clock_time(eta)}", 2),
    ]
    return [field for field in fields if field is not None]


def _done(summary: Summary) -> str:
    """How far the run is: of the files walk counted (still counting: ``+``), or a count.

    Walk counts no file it could not read, so its failed records are left out
    of the files done too (they are among the failed).
    """
    total = summary.total_files
    if not total:
        return f"{summary.records} records"
    done = summary.files_done
    if summary.counting:
        return f"{done}/{total}+ files"
    share = min(100.0, 100 * done / total)
    return f"{done}/{total} files ({share:.0f}%)"


def format_progress(summary: Summary, width: int = 0) -> str:
    """Render the live progress line in at most ``width`` characters (0: no limit).

    Whole fields are dropped, least important first, until the rest fits;
    only when the most important one alone is too wide is it cut.
    """
    fields = _fields(summary)
    text = _SEPARATOR.join(field.text for field in fields)
    while width > 0 and len(text) > width and len(fields) > 1:
        fields.remove(max(fields, key=lambda field: field.rank))
        text = _SEPARATOR.join(field.text for field in fields)
    return text[:width] if width > 0 else text


def _clock_time(seconds: float) -> str:
    """Seconds as h:mm:ss (or m:ss under an hour)."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def terminal_width(stream: TextIO) -> Callable[[], int]:
    """How wide a line may be on ``stream``'s terminal, read anew at each call (0: unknown).

    One column is left free: a line that fills the last column makes some
    terminals wrap on the next write, which would break the redraw.
    """

    def width() -> int:
        try:
            return max(0, os.get_terminal_size(stream.fileno()).columns - 1)
        except (OSError, ValueError):  # not a terminal, or closed
            return 0

    return width


class ProgressLine:
    """Redraws one status line in place with ``\\r``; ``clear`` wipes it before real output.

    ``stream`` is a terminal, flushed on every write since ``\\r`` ends no
    line; ``width`` says how wide the line may be now (0: no limit), asked
    at each redraw. ``show`` and ``clear`` may be called from two threads.
    """

    def __init__(self, stream: TextIO, *, width: Callable[[], int] | None = None) -> None:
        self._stream = stream
        self._width = width if width is not None else terminal_width(stream)
        self._shown = False
        self._lock = threading.Lock()

    def show(self, summary: Summary) -> None:
        """Replace the current line with this summary's progress."""
        text = format_progress(summary, self._width())
        with self._lock:
            self._write(f"\r{text}{_CLEAR_TO_END}")
            self._shown = True

    @property
    def shown(self) -> bool:
        """True while a progress line is on the terminal."""
        return self._shown

    def clear(self) -> None:
        """Erase the progress line, if one is showing, so the next output starts clean."""
        with self._lock:
            if self._shown:
                self._write(f"\r{_CLEAR_TO_END}")
                self._shown = False

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()
