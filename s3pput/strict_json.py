"""One line of JSON, read strictly: only what can be written back as JSON again.

``json.loads`` accepts more than a record may hold: NaN and Infinity (not
JSON, and jq refuses them), numbers too large for a float (1e999), and
nesting so deep that writing the record back would overflow ``json.dumps``'s
recursion. Every stage parses every line, so the checks cost nothing on an
ordinary line. Part of the contract, below records.py: it knows JSON, not
what a record's fields mean.
"""

from __future__ import annotations

import json
from math import isfinite
from typing import Any, Final, TypeAlias

from s3pput.errors import RecordError

__all__ = ["MAX_DEPTH", "JSONValue", "json_object"]

JSONValue: TypeAlias = Any
"""Whatever ``json.loads`` returns; user fields are kept verbatim."""

MAX_DEPTH: Final = 512
"""Deepest nesting of a line's JSON values: deeper ones would overflow the recursion
of ``json.dumps`` when the record is written out again, so they are refused on reading."""


def json_object(line: bytes | str) -> dict[str, JSONValue]:
    """Parse one line as a JSON object, or raise RecordError saying why it is not one."""
    try:
        obj = json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise RecordError("not JSON: nested too deeply") from None
    except ValueError as exc:  # bad JSON or UTF-8, a number out of range, too many digits
        raise RecordError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise RecordError(f"not a JSON object but {type(obj).__name__}")
    if len(line) > MAX_DEPTH and _brackets(line) > MAX_DEPTH and _depth(obj) > MAX_DEPTH:
        raise RecordError(f"not a record: nested more than {MAX_DEPTH} levels deep")
    return obj


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
