"""Sizes, and the limits S3 sets: one definition of each, for every stage.

Part of the contract. Only what S3 (or a byte) defines lives here; a limit
s3pput chose for itself (a buffer, a timeout, a cache) stays beside the code
that it tunes, with the reason for its value. This module imports nothing.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "COPY_LIMIT",
    "LIST_PAGE_KEYS",
    "MAX_KEY_BYTES",
    "MAX_PART",
    "MAX_PARTS",
    "MIN_PART",
    "GiB",
    "KiB",
    "MiB",
    "TiB",
]

KiB: Final = 1024
MiB: Final = 1024 * KiB
GiB: Final = 1024 * MiB
TiB: Final = 1024 * GiB

MIN_PART: Final = 5 * MiB
"""S3's smallest part (all but the last)."""
MAX_PART: Final = 5 * GiB
"""S3's largest part."""
MAX_PARTS: Final = 10_000
"""S3's limit on the parts of one upload."""
COPY_LIMIT: Final = 5 * GiB
"""The largest object one CopyObject copies."""
MAX_KEY_BYTES: Final = 1024
"""S3's longest key, in bytes of UTF-8."""
LIST_PAGE_KEYS: Final = 1_000
"""Keys in one list request at most (S3's maximum, and its default)."""
