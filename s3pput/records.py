"""The record contract between stages: one flat JSON object per line.

This module is the only place that turns records into bytes and back. Every
stage keeps the fields it does not know (``Record.extra``), so fields that a
user adds with ``jq`` survive the whole pipeline. See ``docs/records.md``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias, TypeVar

from s3pput.errors import RecordError
from s3pput.strict_json import (
    JSONValue,
    fast_line,
    fast_object,
    json_line,
    json_object,
    json_string,
)

__all__ = [
    "INTERRUPTED",
    "MAX_NUMBER",
    "NOT_STARTED",
    "RESULT_FIELDS",
    "SCHEMA_VERSION",
    "STATUSES",
    "VERSION_FIELD",
    "WALK_STAGE",
    "Record",
    "Status",
    "decode_path",
    "encode_path",
    "from_json",
    "invalid_line",
    "is_total",
    "json_string",
    "to_json",
]

SCHEMA_VERSION: Final = 1
"""Bumped when the meaning of a field changes; readers refuse newer versions."""

VERSION_FIELD: Final = "s3pput"
"""Name of the field carrying SCHEMA_VERSION; it also tells what the line is."""

Status: TypeAlias = Literal["uploaded", "skipped", "failed", "planned"]
STATUSES: Final[tuple[Status, ...]] = ("uploaded", "skipped", "failed", "planned")
WALK_STAGE: Final = "walk"
"""The ``stage`` of walk's failed records: what it could not read, never a file it counted."""
INTERRUPTED: Final = "interrupted"
"""The ``error`` of a record the run was stopped before it finished (Ctrl-C, SIGTERM)."""
NOT_STARTED: Final = "not started"
"""The ``reason`` of an ``interrupted`` failure put had not begun: nothing of it was sent."""


_T = TypeVar("_T")

MAX_NUMBER: Final = 2**63 - 1
"""The largest number a record may hold: the range of the 64-bit integers that file
sizes, offsets and time stamps have. Larger ones are no real file's, and would
overflow a float (``float(10**400)``) or an operating system call."""

RAW_LIMIT: Final = 65536
"""Characters of a malformed line kept in its failed record."""


RESULT_FIELDS: Final = (
    "status",
    "error",
    "stage",
    "reason",
    "bucket",
    "etag",
    "md5",
    "checksum_algorithm",
    "checksum",
    "bytes",
    "content_type",
    "content_encoding",
    "attempts",
    "seconds",
    "ts",
)
"""Fields a stage writes about what it did; a replay replaces all of them."""

_INPUT_FIELDS: Final = (
    "path",
    "path_b64",
    "key",
    "size",
    "mtime",
    "upload_id",
    "part_size",
    "member",
    "offset",
    "total_files",
    "total_bytes",
    "line",
    "raw",
    "raw_b64",
)
_KNOWN: Final = frozenset((VERSION_FIELD, *_INPUT_FIELDS, *RESULT_FIELDS))


@dataclass(frozen=True)
class Record:
    """One file on its way through the pipeline, and what happened to it.

    ``path`` is a ``str`` as ``os.fsdecode`` gives it: bytes that are not
    UTF-8 are kept as surrogate escapes and travel as ``path_b64``.
    """

    path: str | None = None
    key: str | None = None
    size: int | None = None
    mtime: float | None = None
    status: Status | None = None
    error: str | None = None
    stage: str | None = None
    reason: str | None = None
    bucket: str | None = None
    etag: str | None = None
    md5: str | None = None
    checksum_algorithm: str | None = None
    checksum: str | None = None
    bytes: int | None = None
    content_type: str | None = None
    content_encoding: str | None = None
    attempts: int | None = None
    """Tries the record's requests took: 1, plus every retry any of them needed; 0 if none
    was sent (the endpoint was down)."""
    seconds: float | None = None
    ts: float | None = None
    upload_id: str | None = None
    """An unfinished multipart upload of this record: replaying it sends only missing parts."""
    part_size: int | None = None
    """The part size of that upload."""
    member: str | None = None
    """A member of the tar archive at ``path``: the bytes to upload are that member's."""
    offset: int | None = None
    """Where the member's bytes start in the (decompressed) archive."""
    total_files: int | None = None
    """In a total record (``s3pput-walk --count``, no path): file records that follow."""
    total_bytes: int | None = None
    """In a total record: the bytes of those files."""
    line: int | None = None
    raw: str | None = None
    extra: Mapping[str, JSONValue] = field(default_factory=dict)

    def evolve(self, **changes: object) -> Record:
        """Return a copy with ``changes`` applied.

        ``dataclasses.replace`` runs ``__init__`` again and costs ~13 us; put
        makes a few copies per record, so this plain copy is worth having.
        """
        unknown = changes.keys() - _FIELD_NAMES
        if unknown:
            raise TypeError(f"Record has no field {min(unknown)!r}")
        copy = object.__new__(Record)
        copy.__dict__.update(self.__dict__)
        copy.__dict__.update(changes)
        return copy

    @classmethod
    def of_file(cls, path: str, key: str, size: int, mtime: float) -> Record:
        """A file record as walk makes one, without ``__init__`` (a fifth of its cost).

        Walk builds one per file, so the dataclass's 26 defaults showed in its profile.
        """
        record = object.__new__(cls)
        record.__dict__.update(_DEFAULTS)
        record.__dict__.update(path=path, key=key, size=size, mtime=mtime, extra={})
        return record

    def cleared(self) -> Record:
        """Return this record as input again: every result field dropped.

        Put calls this first, which is how a replayed failure loses its old
        status and error.
        """
        return self.evolve(**_CLEARED)

    def failed(self, stage: str, error: str) -> Record:
        """Return this record marked failed by ``stage`` with a one-line error."""
        return self.evolve(status="failed", stage=stage, error=one_line(error))


_FIELD_NAMES: Final = frozenset(f.name for f in dataclasses.fields(Record))
_DEFAULTS: Final = {
    f.name: f.default for f in dataclasses.fields(Record) if f.default is not dataclasses.MISSING
}
_WRITTEN: Final = (
    "key",
    "size",
    "mtime",
    "member",
    "offset",
    "upload_id",
    "part_size",
    "total_files",
    "total_bytes",
    "line",
    *RESULT_FIELDS,
)
"""Fields ``to_json`` writes as they are, in this order (path and raw have their own forms)."""
_CLEARED: Final = dict.fromkeys(RESULT_FIELDS)


def one_line(text: str) -> str:
    """Collapse whitespace so an error message stays on one line."""
    return " ".join(text.split())


def encode_path(path: str) -> dict[str, str]:
    """Return the JSON field for a path: ``path`` if it is UTF-8, else ``path_b64``."""
    return _text_or_base64("path", path)


def _text_or_base64(name: str, text: str) -> dict[str, str]:
    """``{name: text}`` when ``text`` is UTF-8; else its bytes as ``{name_b64: base64}``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogateescape")
        return {f"{name}_b64": base64.b64encode(data).decode("ascii")}
    return {name: text}


def decode_path(b64: str) -> str:
    """Turn a ``path_b64`` value back into a surrogate-escaped ``str`` path."""
    try:
        raw = base64.b64decode(b64.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise RecordError(f"path_b64 is not valid base64: {exc}") from None
    return raw.decode("utf-8", "surrogateescape")


def to_json(record: Record) -> bytes:
    """Serialise a record as one UTF-8 line ending in ``\\n``."""
    obj: dict[str, JSONValue] = {VERSION_FIELD: SCHEMA_VERSION}
    if record.path is not None:
        obj.update(encode_path(record.path))
    if record.raw is not None:
        obj.update(_text_or_base64("raw", record.raw))  # a malformed line, kept
    fields = record.__dict__  # a plain read: getattr per field cost a tenth of a walk
    written = {name: value for name in _WRITTEN if (value := fields[name]) is not None}
    if written.keys() == _FILE_FIELDS and "path" in obj and record.raw is None and not record.extra:
        line = _file_line(obj["path"], written)
        if line is not None:
            return line
    obj.update(written)
    for name, value in record.extra.items():
        obj.setdefault(name, value)
    return fast_line(obj) or json_line(obj)


_FILE_FIELDS: Final = frozenset(("key", "size", "mtime"))


def _file_line(path: str, fields: dict[str, Any]) -> bytes | None:
    """The line of a plain file record (walk's), put together directly; None if unusual.

    Byte for byte what the encoder writes for the same fields, in the same
    order, at a fifth of the cost: a walk writes one per file.
    """
    key, size, mtime = fields["key"], fields["size"], fields["mtime"]
    if type(size) is not int or type(mtime) is not float or not math.isfinite(mtime):
        return None
    text = (
        f'{{"{VERSION_FIELD}":{SCHEMA_VERSION},"path":{json_string(path)},"key":{json_string(key)},'
        f'"size":{size},"mtime":{mtime!r}}}\n'
    )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def from_json(line: bytes | str) -> Record:
    """Parse one line into a record, or raise RecordError saying what is wrong.

    Only types are checked here; whether a record has what a stage needs
    (a ``path`` for put, say) is that stage's decision. Every stage parses
    every line, so this is one pass over the fields the line has.
    """
    obj = fast_object(line) or json_object(line)  # json_object from here: see its docstring
    _check_version(obj.get(VERSION_FIELD))
    values = _typed_fields(obj)
    if "path_b64" in obj:
        values["path"] = decode_path(_optional(obj, "path_b64", str) or "")
    if values["path"] is not None and "\x00" in values["path"]:
        raise RecordError("path contains a NUL byte")
    if "raw_b64" in obj:
        values["raw"] = decode_path(_optional(obj, "raw_b64", str) or "")
    for name in ("path", "raw"):
        if values[name] is not None and not _is_bytes(values[name]):
            raise RecordError(f"{name} has a lone surrogate that stands for no byte")
    if values["status"] is not None and values["status"] not in STATUSES:
        raise RecordError(f"unknown status {values['status']!r}")
    record = object.__new__(Record)
    record.__dict__.update(values)
    return record


def _is_bytes(text: str) -> bool:
    """Whether ``text`` maps back to bytes: UTF-8, with surrogate escapes for other bytes."""
    try:
        text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


def _typed_fields(obj: dict[str, JSONValue]) -> dict[str, Any]:
    """Every Record field from ``obj``, type-checked; unknown fields go to ``extra``."""
    values = dict(_EMPTY)
    extra: dict[str, JSONValue] = {}
    for name, value in obj.items():
        if name not in _KNOWN:
            extra[name] = value
        elif value is None:
            continue
        elif name in _STR_FIELDS:
            if not isinstance(value, str):
                raise RecordError(f"{name} must be a str, not {type(value).__name__}")
            values[name] = value
        elif name in _NUMBER_FIELDS:
            values[name] = _number(name, value)
        elif name in _INT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise RecordError(f"{name} must be a non-negative integer")
            if value > MAX_NUMBER:
                raise RecordError(f"{name} is larger than {MAX_NUMBER}")
            values[name] = value
    values["extra"] = extra
    return values


def _number(name: str, value: JSONValue) -> float:
    """A time field as a float, within what a clock or a file system can hold.

    An integer of hundreds of digits is valid JSON, but ``float()`` of it
    raises OverflowError; and a float near 1e308 overflows when stat adds or
    subtracts two of them. Durations and run times are never negative.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RecordError(f"{name} must be a number")
    if not -_MAX_TIME <= value <= _MAX_TIME:  # compared exactly, even for a huge int
        raise RecordError(f"{name} is out of range (at most 2**63 in size)")
    if value < 0 and name in _NON_NEGATIVE:
        raise RecordError(f"{name} must not be negative")
    return float(value)


def _fields_typed(*types: str) -> frozenset[str]:
    """Record fields annotated with one of ``types`` (annotations are text here)."""
    return frozenset(f.name for f in dataclasses.fields(Record) if f.type in types)


_STR_FIELDS: Final = _fields_typed("str | None", "Status | None")
_INT_FIELDS: Final = _fields_typed("int | None")
_NUMBER_FIELDS: Final = _fields_typed("float | None")
_MAX_TIME: Final = 2**63
"""The bound of a number field: MAX_NUMBER as a float rounds up to it, and a file's
mtime at the end of a 64-bit time_t reads as just that."""
_NON_NEGATIVE: Final = frozenset(("seconds", "ts"))
"""Number fields that are never negative: a duration, and when put wrote the result
(``mtime`` may be: a file can be dated before 1970)."""
_EMPTY: Final = dict.fromkeys(_FIELD_NAMES)


def invalid_line(raw: bytes, line: int, stage: str, error: str) -> Record:
    """Build the failed record that stands in for a line that is not a record."""
    text = raw[:RAW_LIMIT].decode("utf-8", "surrogateescape")
    return Record(line=line, raw=text).failed(stage, f"line {line}: {error}")


def _check_version(version: JSONValue) -> None:
    if version is None:
        return
    if isinstance(version, bool) or not isinstance(version, int):
        raise RecordError(f"{VERSION_FIELD} must be an integer format version")
    if version > SCHEMA_VERSION:
        raise RecordError(
            f"record format version {version} is newer than this s3pput understands "
            f"({SCHEMA_VERSION}); upgrade s3pput"
        )


def _optional(obj: Mapping[str, JSONValue], name: str, kind: type[_T]) -> _T | None:
    value = obj.get(name)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise RecordError(f"{name} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def is_total(record: Record) -> bool:
    """Whether a record announces how many files follow (``s3pput-walk --count``).

    It names no file: put passes it on unchanged and stat uses it for the
    progress line's ETA instead of counting it.
    """
    return record.total_files is not None and record.path is None and record.status is None
