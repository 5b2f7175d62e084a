"""Content type and gzip choices follow s3-parallel-put's rules."""

from __future__ import annotations

import gzip

from s3pput.put.content_type import (
    DEFAULT_GZIP_TYPES,
    ContentTyper,
    gzip_bytes,
    gzip_types,
    should_gzip,
)

PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 32


class TestContentTyper:
    def test_guess_uses_the_name(self) -> None:
        """`guess` maps extensions to types and leaves unknown ones unset."""
        typer = ContentTyper("guess")
        assert typer.content_type("a/index.html") == "text/html"
        assert typer.content_type("a/noext", PNG_HEADER) is None

    def test_magic_asks_libmagic_only_when_the_name_says_nothing(self) -> None:
        """`magic` trusts the extension first and sniffs the bytes otherwise."""
        typer = ContentTyper("magic")
        assert typer.content_type("x.css", PNG_HEADER) == "text/css"
        assert typer.content_type("noext", PNG_HEADER) == "image/png"

    def test_literal_type(self) -> None:
        """Any other value is used as the type itself."""
        assert ContentTyper("application/x-thing").content_type("a.html") == "application/x-thing"


class TestGzip:
    def test_default_list_guess_and_all(self) -> None:
        """No --gzip-type means the original's list; `guess` extends it; `all` is everything."""
        assert gzip_types([]) == DEFAULT_GZIP_TYPES
        assert gzip_types(["guess", "image/svg+xml"]) == DEFAULT_GZIP_TYPES | {"image/svg+xml"}
        assert gzip_types(["text/plain"]) == frozenset({"text/plain"})
        assert gzip_types(["all"]) is None

    def test_should_gzip_ignores_parameters(self) -> None:
        """`text/html; charset=utf-8` counts as text/html."""
        assert should_gzip("text/html; charset=utf-8", DEFAULT_GZIP_TYPES)
        assert not should_gzip("image/png", DEFAULT_GZIP_TYPES)
        assert not should_gzip(None, DEFAULT_GZIP_TYPES)
        assert should_gzip(None, None)

    def test_gzip_is_reproducible(self) -> None:
        """The same file compresses to the same bytes, so `update` can compare ETags."""
        assert gzip_bytes(b"x" * 1000) == gzip_bytes(b"x" * 1000)
        assert gzip.decompress(gzip_bytes(b"hello")) == b"hello"
