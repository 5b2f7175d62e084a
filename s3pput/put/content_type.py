"""Content type and gzip decisions, the way s3-parallel-put made them.

``guess`` looks at the file name; ``magic`` looks at the name first and asks
libmagic only when the name says nothing; anything else is a literal type. A
``ContentType`` parameter (``--header``) wins over all three. This module
decides from a name and a body's first bytes; it must not know files,
archives or records.
"""

from __future__ import annotations

import gzip
import mimetypes
import threading
from collections.abc import Callable, Iterable
from typing import Final

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
    """Decide a Content-Type per ``--content-type`` mode, and whether to gzip the body.

    ``fixed`` is a ContentType given as a parameter, ``gzip`` and
    ``gzip_types`` are ``--gzip`` and ``--gzip-type``. libmagic handles are
    not thread-safe, so each thread gets its own.
    """

    def __init__(
        self,
        mode: str,
        *,
        fixed: str | None = None,
        gzip: bool = False,
        gzip_types: frozenset[str] | None = DEFAULT_GZIP_TYPES,
    ) -> None:
        self.mode = mode
        self.fixed = fixed
        self.gzip = gzip
        self.gzip_types = gzip_types
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
            import magic  # noqa: PLC0415  # libmagic only for a file its name says nothing of

            detector = magic.Magic(mime=True)
            self._local.magic = detector
        found: str = detector.from_buffer(head[:SNIFF_BYTES])
        return found or None

    def named(self, name: str) -> tuple[str | None, bool] | None:
        """(Content-Type, gzip it?) from the parameter or the name; None if libmagic must look."""
        content_type = self.fixed or self.content_type(name)
        if content_type is None and self.needs_head:
            return None
        return content_type, self.compress(content_type)

    def resolve(self, name: str, first_bytes: Callable[[int], bytes]) -> str | None:
        """The Content-Type to send; ``first_bytes(n)`` is read only if libmagic must look."""
        content_type = self.fixed or self.content_type(name)
        if content_type is None and self.needs_head:
            content_type = self.content_type(name, first_bytes(SNIFF_BYTES))
        return content_type

    def compress(self, content_type: str | None) -> bool:
        """Whether a body of this type goes up gzipped (``--gzip`` and ``--gzip-type``)."""
        return self.gzip and should_gzip(content_type, self.gzip_types)
