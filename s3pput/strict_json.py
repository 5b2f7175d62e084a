"""One line of JSON, read strictly and written back the same way every time.

``json.loads`` accepts more than a record may hold: NaN and Infinity (not
JSON, and jq refuses them), numbers too large for a float (1e999), and
nesting so deep that writing the record back would overflow ``json.dumps``'s
recursion. Every stage parses every line, so the checks cost nothing on an
ordinary line. Part of the contract, below records.py: it knows JSON, not
what a record's fields mean.

The standard library's ``json`` defines what is read and written. Once a run
has handled ``FAST_AFTER`` lines, msgspec does the common lines instead, about
ten times faster (docs/BENCHMARKS.md, "Records between stages"), only where
it gives exactly what ``json`` would: a line it doubts or refuses, and an
object it would write otherwise, go to ``json`` as before. So no line is read
or written differently, and an error says what it always said.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from math import isfinite
from typing import Any, Final, TypeAlias

from s3pput.errors import RecordError

__all__ = [
    "FAST_AFTER",
    "MAX_DEPTH",
    "JSONValue",
    "fast_line",
    "fast_object",
    "json_line",
    "json_object",
    "json_string",
]

JSONValue: TypeAlias = Any
"""Whatever ``json.loads`` returns; user fields are kept verbatim."""

MAX_DEPTH: Final = 512
"""Deepest nesting of a line's JSON values: deeper ones would overflow the recursion
of ``json.dumps`` when the record is written out again, so they are refused on reading."""

FAST_AFTER: Final = 1000
"""Lines a process reads or writes with ``json`` before it loads msgspec. Importing
msgspec costs about 12 ms, which it earns back in about 1,500 lines; a short run
(a cron job's few files) never pays it and starts as fast as before."""


def json_object(line: bytes | str) -> dict[str, JSONValue]:
    """Parse one line as a JSON object, or raise RecordError saying why it is not one.

    The standard library's reading, which defines every other. Called where
    it always was (``records.from_json`` calls it directly): json.loads
    runs out of recursion at a depth that counts the caller's frames, and a
    line nested 986 deep is told "nested more than 512 levels" only so.
    """
    try:
        obj = json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise RecordError("not JSON: nested too deeply") from None
    except ValueError as exc:  # bad JSON or UTF-8, a number out of range, too many digits
        raise RecordError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RecordError(f"not a JSON object but {type(obj).__name__}")
    if _may_nest_deeply(line) and _depth(obj) > MAX_DEPTH:
        raise RecordError(f"not a record: nested more than {MAX_DEPTH} levels deep")
    return obj


def fast_object(line: bytes | str) -> dict[str, JSONValue] | None:
    """``json_object(line)`` by msgspec, once a run is long; None when the caller must ask it.

    None before the switch, for a ``str``, and for any line msgspec refuses
    or may read otherwise: then ``json_object`` reads it, or says why not.
    """
    if type(line) is bytes and _FAST.ready():
        return _FAST.object(line)
    return None


def json_line(obj: dict[str, JSONValue]) -> bytes:
    """One object as one UTF-8 line ending in ``\\n``: compact, non-ASCII as it is.

    The standard library's writing, which defines every other. A string with
    a lone surrogate (it came in as ``"\\udcxx"``) cannot be UTF-8: then the
    whole line is written ASCII-escaped, the way it came in, rather than as
    invalid UTF-8.
    """
    try:
        return (_UTF8_JSON.encode(obj) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (_ASCII_JSON.encode(obj) + "\n").encode("ascii")


def fast_line(obj: dict[str, JSONValue]) -> bytes | None:
    """``json_line(obj)`` by msgspec, once a run is long; None when the caller must ask it."""
    if _FAST.ready():
        return _FAST.line(obj)
    return None


_UTF8_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
"""Built once: ``json.dumps`` with any option builds a new encoder on every call."""
_ASCII_JSON: Final = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)
json_string: Final = _UTF8_JSON.encode
"""A str as JSON, as ``json_line`` writes it: the encoder's own C escaping (walk's lines use it)."""


class _Fast:
    """msgspec's decoder and encoder, loaded once a process has handled ``after`` lines.

    Each method answers only when msgspec's answer is surely ``json``'s, and
    None otherwise, so that the caller asks ``json``.
    """

    def __init__(self, after: int) -> None:
        self._left = after
        self._loaded = False
        self._decode: Callable[[bytes], Any] = _unloaded
        self._encode: Callable[[Any], bytes] = _unloaded
        self._verbatim: Callable[[bytes], Any] = _unloaded
        self._refused: tuple[type[Exception], ...] = ()

    def ready(self) -> bool:
        """Count one line; True once msgspec is loaded (it is at the ``after``-th line)."""
        if self._loaded:
            return True
        self._left -= 1
        if self._left > 0:
            return False
        self.load()
        return True

    def load(self) -> None:
        """Import msgspec now (tests call this to read every line the fast way)."""
        import msgspec  # noqa: PLC0415  # 12 ms: only a run long enough to earn it back imports it

        self._decode = msgspec.json.Decoder().decode
        self._encode = msgspec.json.Encoder().encode
        self._verbatim = msgspec.Raw
        self._refused = (msgspec.DecodeError, RecursionError)
        self._loaded = True

    def object(self, line: bytes) -> dict[str, JSONValue] | None:
        """The object on ``line`` as ``json_object`` reads it; None if msgspec is unsure.

        msgspec reads JSON as ``json`` does, with its refusals on top: an
        encoded lone surrogate, a BOM, a number out of range, deep nesting.
        A line it refuses, one that is no object and one that may nest too
        deeply go to ``json_object``, which says why, as it always has.
        """
        try:
            obj = self._decode(line)
        except self._refused:
            return None
        if type(obj) is not dict or _may_nest_deeply(line):
            return None
        return obj

    def line(self, obj: dict[str, JSONValue]) -> bytes | None:
        """``obj``'s line by msgspec, byte for byte ``json_line``'s; None where it may not be.

        Str keys and flat values: strings, integers, booleans, null, floats.
        msgspec writes a float as ``repr`` does only from 1e-4 up to 1e16, so
        another (a time of 1e-05) goes in as ``repr`` wrote it. A list, an
        object, a subclass, a non-finite float or a lone surrogate is left to
        ``json`` (a user field that nests, a value json refuses).
        """
        if not _STR.issuperset(map(type, obj)):
            return None
        reprs: dict[str, Any] | None = None
        for name, value in obj.items():
            kind = type(value)
            if kind is float:
                if _SMALLEST_PLAIN_FLOAT <= abs(value) < _LARGEST_PLAIN_FLOAT or value == 0:
                    continue
                if not isfinite(value):
                    return None
                reprs = reprs if reprs is not None else {}
                reprs[name] = self._verbatim(repr(value).encode("ascii"))
            elif kind not in _EXACT:
                return None
        try:
            return self._encode(obj if reprs is None else obj | reprs) + b"\n"
        except UnicodeEncodeError:  # a lone surrogate: json escapes the whole line
            return None


def _unloaded(_obj: object) -> Any:  # noqa: ANN401  # stands for either codec until load()
    """Stands for msgspec's codecs until they are loaded: ``ready()`` comes first."""
    raise AssertionError("msgspec is used before it is loaded")


_FAST: Final = _Fast(FAST_AFTER)

_STR: Final = frozenset((str,))
_EXACT: Final = frozenset((str, int, bool, type(None)))
"""Types msgspec writes exactly as ``json`` does, integers of any size too."""
_SMALLEST_PLAIN_FLOAT: Final = 1e-4
_LARGEST_PLAIN_FLOAT: Final = 1e16
"""msgspec writes a float as ``repr`` (and so ``json``) does, the shortest digits that read
back the same, only from 1e-4 up to 1e16: outside, ``repr`` writes ``1e-05`` and ``1e+16``
where msgspec writes ``1e-5`` and ``1e16``; and it writes infinity as null where ``json``
refuses it."""


def _may_nest_deeply(line: bytes | str) -> bool:
    """Whether a line has room for more than MAX_DEPTH levels: a cheap test before the real one."""
    return len(line) > MAX_DEPTH and _brackets(line) > MAX_DEPTH


def _finite_float(text: str) -> float:
    """Parse a JSON number; one too large for a float (1e999) cannot be written back."""
    value = float(text)
    if not isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _brackets(line: bytes | str) -> int:
    """Count what opens an array or object: a cheap bound on the nesting, quoted ones too."""
    if isinstance(line, str):
        return line.count("[") + line.count("{")
    return line.count(b"[") + line.count(b"{")


def _depth(value: JSONValue) -> int:
    """How deeply a parsed JSON value nests, found without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _reject_constant(name: str) -> None:
    """Refuse NaN and Infinity: Python reads them, but they are not JSON and jq rejects them."""
    raise json.JSONDecodeError(f"{name} is not valid JSON", name, 0)
