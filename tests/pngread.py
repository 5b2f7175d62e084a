"""Read a PNG's pixels with the standard library alone (zlib), for screenshot checks.

Enough of the format for what Chromium writes: 8-bit RGB or RGBA, not
interlaced, every row filter. Tests use it to find a chart's line colour in
a screenshot, so they need no imaging library.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = ["Image", "read_png"]

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
_CHANNELS: Final = {2: 3, 6: 4}
"""PNG colour type -> bytes per pixel at 8 bits: RGB, RGBA."""


@dataclass(frozen=True)
class Image:
    """Decoded pixels: ``rows[y][x * channels : ...]`` are one pixel's bytes."""

    width: int
    height: int
    channels: int
    rows: list[bytes]

    def rgb(self, x: int, y: int) -> tuple[int, int, int]:
        """The colour of one pixel, alpha dropped."""
        at = x * self.channels
        row = self.rows[y]
        return row[at], row[at + 1], row[at + 2]


def read_png(path: Path) -> Image:
    """Decode an 8-bit RGB(A) PNG; raise ValueError for anything else."""
    data = path.read_bytes()
    if not data.startswith(SIGNATURE):
        raise ValueError(f"{path}: not a PNG")
    pos, header, compressed = len(SIGNATURE), b"", bytearray()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in _CHANNELS or interlace:  # 8 bits per channel
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour type {colour})")
    channels = _CHANNELS[colour]
    raw = zlib.decompress(bytes(compressed))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        row = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        rows.append(bytes(row))
        previous = row
    return Image(width=width, height=height, channels=channels, rows=rows)


def _unfilter(kind: int, row: bytearray, above: bytearray, bpp: int) -> bytearray:
    """Undo one row's PNG filter (None, Sub, Up, Average, Paeth) in place."""
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        up = above[i]
        corner = above[i - bpp] if i >= bpp else 0
        if kind == 1:
            row[i] = (row[i] + left) & 0xFF
        elif kind == 2:  # the filter types are numbers
            row[i] = (row[i] + up) & 0xFF
        elif kind == 3:
            row[i] = (row[i] + (left + up) // 2) & 0xFF
        elif kind == 4:
            row[i] = (row[i] + _paeth(left, up, corner)) & 0xFF
    return row


def _paeth(left: int, up: int, corner: int) -> int:
    guess = left + up - corner
    to_left, to_up, to_corner = abs(guess - left), abs(guess - up), abs(guess - corner)
    if to_left <= to_up and to_left <= to_corner:
        return left
    return up if to_up <= to_corner else corner
