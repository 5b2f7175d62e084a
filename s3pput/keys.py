"""S3 key rules: prefixes, joining path parts, and names that are not UTF-8."""

from __future__ import annotations

import re
from collections.abc import Iterable

from s3pput.units import MAX_KEY_BYTES

__all__ = ["check_key", "escape_undecodable", "join_key", "key_from_path"]

_SURROGATE = re.compile("[\udc80-\udcff]")
_CONTROL = re.compile("[\x01-\x1f\x7f-\x9f]")
"""C0 controls but NUL (refused on its own), DEL and the C1 controls."""


def escape_undecodable(name: str) -> str:
    """Replace each byte that was not UTF-8 (a surrogate escape) with ``%XX``.

    S3 keys must be UTF-8, so a file named ``caf\\xe9`` goes up as ``caf%E9``.
    The local path still travels exactly, as ``path_b64``.
    """
    return _SURROGATE.sub(lambda m: f"%{ord(m.group()) - 0xDC00:02X}", name)


def join_key(prefix: str, parts: Iterable[str]) -> str:
    """Join a prefix and path parts with single slashes and no leading slash.

    ``www`` and ``www/`` are the same prefix; empty parts and ``.`` vanish.
    """
    pieces = [p for p in prefix.split("/") if p]
    pieces.extend(p for p in parts if p not in {"", "."})
    return escape_undecodable("/".join(pieces))


def key_from_path(path: str, prefix: str = "") -> str:
    """Derive a key from a local path: ``./a/b`` and ``/a/b`` both give ``a/b``."""
    return join_key(prefix, path.split("/"))


def check_key(key: str, *, control_ok: bool = True) -> str | None:
    """Return why ``key`` must not be sent, or None when it is acceptable.

    S3 refuses NUL and keys over 1,024 bytes. Stores rewrite keys shaped
    like paths: SeaweedFS stores ``/k/a`` and ``k//a`` as ``k/a`` (two
    records, one object), keeps no bytes under ``k/`` (a folder to it), and
    refuses ``a/./b`` and ``a/../b``, which URL handling resolves anyway. A
    record's key must be the object's, so these fail before any request;
    walk never makes them. Other control characters are legal in S3 keys and
    safe in URL-encoded listings; ``--refuse-control-keys`` (``control_ok``
    False) fails them, C1 controls included.
    """
    if not key:
        return "empty key"
    if "\x00" in key:
        return "key contains a NUL character, which S3 refuses"
    if not control_ok and (found := _CONTROL.search(key)):
        return (
            f"key contains the control character U+{ord(found.group()):04X} "
            "(refused by --refuse-control-keys)"
        )
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        return "key is not valid UTF-8"
    if size > MAX_KEY_BYTES:
        return f"key is {size} bytes; S3 allows at most {MAX_KEY_BYTES}"
    return _path_problem(key)


def _path_problem(key: str) -> str | None:
    """Why a store would not keep ``key`` as it is, read as a path; None if it would."""
    if key.startswith("/"):
        return "key starts with '/', which stores drop (/k/a is stored as k/a)"
    if key.endswith("/"):
        return "key ends with '/': stores take it for a folder and keep no bytes under it"
    segments = key.split("/")
    if "" in segments:
        return "key has an empty segment ('//'), which stores collapse (k//a is stored as k/a)"
    dots = next((s for s in segments if s in {".", ".."}), None)
    if dots is not None:
        return f"key has a '{dots}' segment, which stores refuse or resolve as a path"
    return None
