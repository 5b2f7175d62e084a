"""The record contract: what one stage writes, the next reads back exactly."""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s3pput.errors import RecordError
from s3pput.records import (
    MAX_NUMBER,
    SCHEMA_VERSION,
    VERSION_FIELD,
    Record,
    from_json,
    invalid_line,
    to_json,
)

# Paths as os.fsdecode gives them: any bytes but NUL, undecodable ones as surrogates.
fs_paths = st.binary(min_size=1, max_size=300).filter(lambda b: b"\0" not in b).map(os.fsdecode)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False)
)
user_fields = st.dictionaries(
    st.text(min_size=1).filter(
        lambda k: k not in Record.__dataclass_fields__ and k != VERSION_FIELD
    ),
    json_scalars,
    max_size=4,
)
results = st.builds(
    Record,
    path=fs_paths,
    key=st.text(),
    size=st.integers(min_value=0, max_value=MAX_NUMBER),
    mtime=st.floats(min_value=0, max_value=2e9),
    status=st.sampled_from(["uploaded", "skipped", "failed", "planned"]),
    error=st.none() | st.text(),
    etag=st.none() | st.text(),
    bytes=st.none() | st.integers(min_value=0, max_value=2**40),
    seconds=st.none() | st.floats(min_value=0, max_value=1e6),
    extra=user_fields,
)


NUMERIC_FIELDS = frozenset(
    name
    for name, spec in Record.__dataclass_fields__.items()
    if spec.type in {"int | None", "float | None"}
)
"""Every number a record has: each must be checked on reading."""


class TestRoundTrip:
    @given(results)
    def test_every_record_survives_a_pipe(self, record: Record) -> None:
        """from_json(to_json(r)) gives r back, hostile paths and user fields included."""
        assert from_json(to_json(record)) == record

    @given(results)
    def test_each_record_is_exactly_one_line(self, record: Record) -> None:
        """A record never contains a raw newline, so line-based tools never split it."""
        line = to_json(record)
        assert line.endswith(b"\n")
        assert line.count(b"\n") == 1

    def test_non_utf8_path_travels_as_base64(self) -> None:
        """A name that is not UTF-8 goes out as path_b64 and comes back as the same bytes."""
        path = os.fsdecode(b'dir/caf\xe9\n-"x".txt')
        line = json.loads(to_json(Record(path=path)))
        assert "path" not in line
        assert os.fsencode(from_json(json.dumps(line)).path or "") == b'dir/caf\xe9\n-"x".txt'

    def test_jq_between_stages_keeps_every_field(self) -> None:
        """Passing records through `jq -c .` changes nothing a stage reads."""
        record = Record(
            path=os.fsdecode(b"\xff\xfe"), key="k", size=1, mtime=1.5, extra={"mine": [1]}
        )
        out = subprocess.run(
            ["jq", "-c", "."], input=to_json(record), capture_output=True, check=True
        )
        assert from_json(out.stdout) == record

    def test_version_is_written(self) -> None:
        """Every line names its format version, so a future change cannot break a pipe silently."""
        assert json.loads(to_json(Record(path="a")))[VERSION_FIELD] == SCHEMA_VERSION


class TestValidation:
    @pytest.mark.parametrize(
        ("line", "message"),
        [
            (b"not json", "not JSON"),
            (b"[1, 2]", "not a JSON object"),
            (b'{"path": 3}', "path must be a str"),
            (b'{"path": "a", "size": -1}', "size must be a non-negative integer"),
            (b'{"path": "a", "size": true}', "size must be a non-negative integer"),
            (b'{"path": "a", "mtime": "x"}', "mtime must be a number"),
            (b'{"path_b64": "***"}', "not valid base64"),
            (b'{"path": "a", "status": "done"}', "unknown status"),
            (b'{"s3pput": 99, "path": "a"}', "newer than this s3pput"),
            (b"\xff\xfe", "not JSON"),
            (b'{"path": "a", "x": Infinity}', "Infinity is not valid JSON"),
            (b'{"path": "a", "mtime": 1' + b"0" * 400 + b"}", "mtime is out of range"),
            (b'{"path": "a", "seconds": 1' + b"0" * 400 + b"}", "seconds is out of range"),
            (b'{"path": "a", "ts": -1' + b"0" * 400 + b"}", "ts is out of range"),
            (b'{"path": "a", "ts": 1e308}', "ts is out of range"),
            (b'{"path": "a", "mtime": -1e300}', "mtime is out of range"),
            (b'{"path": "a", "seconds": -0.5}', "seconds must not be negative"),
            (b'{"path": "a", "ts": -1}', "ts must not be negative"),
            (b'{"path": "a", "size": 1' + b"0" * 400 + b"}", "size is larger than"),
            (b'{"path": "a", "part_size": 9223372036854775808}', "part_size is larger than"),
            (b'{"path": "a", "bytes": 1' + b"0" * 400 + b"}", "bytes is larger than"),
            (b'{"path": "a", "attempts": 1' + b"0" * 400 + b"}", "attempts is larger than"),
            (b'{"path": "a", "offset": 1' + b"0" * 400 + b"}", "offset is larger than"),
            (b'{"total_files": 1' + b"0" * 400 + b"}", "total_files is larger than"),
            (b'{"total_bytes": 1' + b"0" * 400 + b"}", "total_bytes is larger than"),
            (b'{"raw": "x", "line": 1' + b"0" * 400 + b"}", "line is larger than"),
        ],
    )
    def test_bad_lines_say_why(self, line: bytes, message: str) -> None:
        """Each kind of malformed line raises RecordError naming the problem."""
        with pytest.raises(RecordError, match=message):
            from_json(line)

    def test_numbers_at_the_limit_are_records(self) -> None:
        """The largest 64-bit values (and a file dated before 1970) are still read."""
        record = from_json(
            f'{{"path": "a", "size": {MAX_NUMBER}, "mtime": -{MAX_NUMBER}, "ts": {MAX_NUMBER}}}'
        )
        assert (record.size, record.mtime, record.ts) == (MAX_NUMBER, -float(MAX_NUMBER), 2.0**63)

    @given(
        st.dictionaries(
            st.sampled_from(sorted(NUMERIC_FIELDS)),
            st.integers() | st.floats(allow_nan=False, allow_infinity=False),
            min_size=1,
        )
    )
    def test_any_number_is_a_record_or_a_record_error(self, fields: dict[str, object]) -> None:
        """No number, however large or negative, escapes as anything but RecordError."""
        line = json.dumps({"path": "a", **fields})
        try:
            record = from_json(line)
        except RecordError:
            return
        assert from_json(to_json(record)) == record

    def test_hand_written_records_need_no_version(self) -> None:
        """`{"path": ...}` made by jq or a script is accepted as version 1."""
        assert from_json(b'{"path": "a/b"}') == Record(path="a/b")

    def test_cleared_drops_old_results_but_keeps_user_fields(self) -> None:
        """Replaying a failed record forgets its old status and error, not the user's fields."""
        old = from_json(b'{"path":"a","key":"a","status":"failed","error":"x","etag":"e","mine":1}')
        assert old.cleared() == Record(path="a", key="a", extra={"mine": 1})

    def test_invalid_line_keeps_the_raw_text(self) -> None:
        """A malformed line's failed record carries the line and its number."""
        record = invalid_line(b"garbage \xff", 7, "put", "not JSON")
        parsed = from_json(to_json(record))
        assert parsed.status == "failed"
        assert parsed.line == 7
        assert parsed.raw == record.raw
        assert "line 7" in (parsed.error or "")


@given(
    fs_paths,
    st.text(),
    st.integers(min_value=0, max_value=MAX_NUMBER),
    st.floats(min_value=-(2.0**63), max_value=2.0**63),  # what os.stat can give
)
def test_a_file_record_is_written_as_the_encoder_writes_it(
    path: str, key: str, size: int, mtime: float
) -> None:
    """Walk's records take a short cut to their line: byte for byte the general one."""
    record = Record.of_file(path, key, size, mtime)
    assert record == Record(path=path, key=key, size=size, mtime=mtime)
    general: dict[str, object] = {VERSION_FIELD: SCHEMA_VERSION}
    try:
        path.encode("utf-8")
        general["path"] = path
    except UnicodeEncodeError:
        general["path_b64"] = base64.b64encode(path.encode("utf-8", "surrogateescape")).decode()
    general.update(key=key, size=size, mtime=mtime)
    try:
        expected = json.dumps(general, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        expected = json.dumps(general, separators=(",", ":")).encode()
    assert to_json(record) == expected + b"\n"
    assert from_json(to_json(record)) == record
