"""How much the bucket index holds: directories, keys, trees, windows, listing threads.

Memory stays bounded: listings are kept up to these numbers, the oldest
forgotten first. Tests lower them through LIMITS_VARIABLE, so that a
directory of a few thousand files counts as big through the real commands.
Numbers only: what is kept, and how, is bucket_index.py's.
"""

from __future__ import annotations

import os
from typing import Final

from s3pput.put.index_window import WINDOW_KEYS

__all__ = [
    "LIMITS_VARIABLE",
    "MAX_DIRECTORIES",
    "MAX_ENTRIES",
    "MAX_WINDOWS",
    "PREFETCH_THREADS",
    "TREE_LIMIT",
    "WINDOW_LIMIT",
]

LIMITS_VARIABLE: Final = "S3PPUT_LISTING_LIMITS"
"""Not a user setting: tests name smaller limits here ("max_entries=500,tree_limit=500")
so that a directory of a few thousand files counts as big, through the real commands."""


def _limits(text: str) -> dict[str, int]:
    """The limits named in LIMITS_VARIABLE's value: "name=number" pairs, comma-separated."""
    pairs = [item.partition("=") for item in text.split(",") if item.strip()]
    limits = {name.strip(): int(value) for name, _, value in pairs}
    unknown = set(limits) - {"max_entries", "tree_limit", "window_keys"}
    if unknown:
        raise ValueError(f"{LIMITS_VARIABLE}: unknown limits {sorted(unknown)}")
    return limits


_LOWERED: Final = _limits(os.environ.get(LIMITS_VARIABLE, ""))
"""Read once, here: the defaults below are what DirectoryIndex is built with."""
MAX_DIRECTORIES: Final = 256
MAX_ENTRIES: Final = _LOWERED.get("max_entries", 200_000)
"""Keys kept in all listings together; a directory with more is read through a window."""
TREE_LIMIT: Final = _LOWERED.get("tree_limit", 20_000)
"""Keys listed under one prefix before it counts as too big to hold as one tree."""
WINDOW_LIMIT: Final = _LOWERED.get("window_keys", WINDOW_KEYS)
"""Keys each window keeps behind the last it read."""
MAX_WINDOWS: Final = 8
"""Windows kept at once (the least recently asked is forgotten), so memory stays bounded."""
PREFETCH_THREADS: Final = 4
"""Listings run ahead of the uploads at once, so their round trips overlap."""
