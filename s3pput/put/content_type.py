"""Content type and gzip decisions, the way s3-parallel-put made them.

``guess`` looks at the file name; ``magic`` looks at the name first and asks
libmagic only when the name says nothing; anything else is a literal type.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from collections.abc import Iterable
from typing import Final

import magic

__all__ = [
    "DEFAULT_GZIP_TYPES",
    "GZIP_ALL",
    "ContentTyper",
    "gzip_bytes",
    "gzip_types",
    "should_gzip",
]

DEFAULT_GZIP_TYPES: Final = frozenset(
    {
        "application/javascript",
        "application/x-javascript",
        "text/css",
        "text/html",
        "text/javascript",
    }
)
"""The original's list of types worth compressing."""

GZIP_ALL: Final = "all"
GUESS: Final = "guess"
MAGIC: Final = "magic"
SNIFF_BYTES: Final = 4096
"""How much of a file libmagic sees; enough for every common signature."""


def gzip_types(requested: Iterable[str]) -> frozenset[str] | None:
    """Resolve ``--gzip-type`` values: None means every type (``all``).

    No values, or ``guess`` among them, includes the default list.
    """
    values = list(requested)
    if GZIP_ALL in values:
        return None
    if not values or GUESS in values:
        return DEFAULT_GZIP_TYPES | {v for v in values if v != GUESS}
    return frozenset(values)


def should_gzip(content_type: str | None, types: frozenset[str] | None) -> bool:
    """Tell whether a body of this type goes up compressed (``types`` None means all)."""
    if types is None:
        return True
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() in types


def gzip_bytes(data: bytes) -> bytes:
    """Compress reproducibly (no timestamp), so the same file gives the same ETag."""
    return gzip.compress(data, compresslevel=6, mtime=0)


class ContentTyper:
    """Decide a Content-Type per ``--content-type`` mode.

    libmagic handles are not thread-safe, so each thread gets its own.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._local = threading.local()

    @property
    def needs_head(self) -> bool:
        """Whether the first bytes of a file may be needed (only for ``magic``)."""
        return self.mode == MAGIC

    def content_type(self, name: str, head: bytes | None = None) -> str | None:
        """Return the type for a file called ``name`` starting with ``head``, or None."""
        if self.mode not in {GUESS, MAGIC}:
            return self.mode
        guessed, _ = mimetypes.guess_type(name, strict=False)
        if guessed is not None or self.mode == GUESS or head is None:
            return guessed
        detector = getattr(self._local, "magic", None)
        if detector is None:
            detector = magic.Magic(mime=True)
            self._local.magic = detector
        found: str = detector.from_buffer(head[:SNIFF_BYTES])
        return found or None
