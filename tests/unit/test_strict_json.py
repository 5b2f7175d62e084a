"""The fast JSON path (msgspec) reads and writes every line exactly as the standard library does.

strict_json.json_object and strict_json.json_line are the definition; with
msgspec loaded, fast_object and fast_line (and json_object or json_line
where they answer None, as records.py calls them) must give the same dict
(same types, same key order, same float bits) or the same RecordError, and
the same bytes or the same exception, on every hostile line the suite knows.
"""

from __future__ import annotations

import enum
import json
import math
import random
import struct
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3pput import strict_json
from s3pput.errors import RecordError
from s3pput.records import from_json, to_json
from s3pput.strict_json import fast_line, fast_object, json_line, json_object


def read_fast(line: bytes) -> dict[str, object]:
    """A line read as records.from_json reads it: msgspec, or json where msgspec is unsure."""
    return fast_object(line) or json_object(line)


def write_fast(obj: dict[str, object]) -> bytes:
    """An object written as records.to_json writes it: msgspec, or json where it must."""
    return fast_line(obj) or json_line(obj)


FLOAT_EDGES = [
    0.0,
    -0.0,
    1e-4,
    -1e-4,
    9.999999999999999e-05,
    1e-05,
    5.7e-05,
    1e16,
    9999999999999998.0,
    -1e16,
    1e22,
    5e-324,
    1.7976931348623157e308,
    1700000000.123456,
    0.1,
    1 / 3,
]


def floats_anywhere() -> st.SearchStrategy[float]:
    """Floats of every size, the edges where formats change included."""
    return st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(FLOAT_EDGES)


json_values: st.SearchStrategy[object] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | floats_anywhere()
    | st.text()
    | st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Zl", "Zp"])),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
"""Any value json.dumps writes: lone surrogates (Cs) and control characters (Cc) too."""


DEEP = 984
HUGE = b"1" + b"0" * 400

HOSTILE_LINES: list[bytes] = [
    # tests/e2e/test_hostile.py's bad lines and huge numbers
    b'{"path": "a\x00b", "key": "k"}',
    b'{"path": "a\\u0000b", "key": "k"}',
    b'{"path": "p"}\x00',
    b"x" * (1 << 20),
    b"\xff\xfe\x80\xc3\x28" + bytes(b for b in range(256) if b not in b"\r\n") * 16,
    b'[{"path": "p"}]',
    b"42",
    b'"p"',
    b'{"path": "p", "key": "s", "size": "3"}',
    b'{"path": "p", "key": 5}',
    b"[" * 100_000,
    b'{"path": "p", "key": "d", "x": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    b'{"path": "p", "x": ' + b"[" * 511 + b"]" * 511 + b"}",
    b'{"path": "p", "x": ' + b"[" * 512 + b"]" * 512 + b"}",
    b'{"path": "p", "x": "' + b"[" * 600 + b'"}',
    b'{"path": "p", "key": "f", "x": 1e999}',
    b'{"path": "p", "key": "i", "x": ' + b"9" * 5000 + b"}",
    b'{"path": "p", "x": ' + b"9" * 4300 + b"}",
    b'{"path": "p", "x": -' + b"9" * 4301 + b"}",
    b'{"path": "p", "key": "n", "x": NaN}',
    b'{"x": Infinity}',
    b'{"x": -Infinity}',
    b'{"path": "a\\ud800b", "key": "u"}',
    b'{"path": "a\\udcffb", "x": "\\udc80"}',
    b'{"path": "a\\ud83d\\ude00b"}',
    b'{"s3pput": 99, "path": "p"}',
    b'{"path": "p", "key": "cu',
    *(b'{"path": "p", "%s": %s}' % (name, HUGE) for name in (b"mtime", b"size", b"ts", b"x")),
    b'{"path": "p", "mtime": -1e300, "seconds": -1, "ts": 1e308}',
    b'{"path": "p", "part_size": 9223372036854775808, "size": 18446744073709551616}',
    b'{"x": -9223372036854775809, "y": 18446744073709551615}',
    # numbers at the edges of a float
    b'{"x": 1.7976931348623157e308, "y": 1.7976931348623159e308}',
    b'{"x": 2.4703282292062327e-324, "y": 2.4703282292062328e-324, "z": 5e-324}',
    b'{"x": 1e-99999, "y": 0e99999, "z": -0.0, "w": -0, "v": 1E+2, "u": 1e-0}',
    b'{"x": 0.' + b"0" * 5000 + b"1}",
    b'{"x": 1' + b"0" * 400 + b".0}",
    b'{"x": 01}',
    b'{"x": 1.}',
    b'{"x": .5}',
    b'{"x": +1}',
    b'{"x": 0x10}',
    b'{"x": 1e}',
    b'{"x": -}',
    # what UTF-8 may and may not be
    b'{"path": "caf\xc3\xa9 \xf0\x9f\x98\x80"}',
    b'{"path": "caf\xe9"}',
    b'{"path": "\xed\xa0\x80"}',
    b'{"path": "\xed\xb3\xbf"}',
    b'{"path": "\xc0\x80"}',
    b'{"path": "\xe0\x80\xaf"}',
    b'{"path": "\xf4\x90\x80\x80"}',
    b'{"path": "\xf0\x9f\x98"}',
    b"\xef\xbb\xbf" + b'{"path": "bom"}',
    b'\xff\xfe{\x00"\x00a\x00"\x00:\x001\x00}\x00',
    b'{\x00"\x00a\x00"\x00:\x001\x00}\x00',
    b'\x00{\x00"\x00a\x00"\x00:\x001\x00}',
    # strings
    b'{"x": "tab\tinside"}',
    b'{"x": "bell\x07"}',
    b'{"x": "del\x7f \xe2\x80\xa8 \xe2\x80\xa9"}',
    b'{"x": "\\"\\\\\\/\\b\\f\\n\\r\\t\\u001b\\u0041"}',
    b'{"x": "\\x41"}',
    b'{"x": "\\u12"}',
    b'{"x": "\\U0041"}',
    b"{'x': 1}",
    # structure, whitespace, keys
    b'{"path": "a", "path": "b", "key": "k", "path": "c"}',
    b'{"a": 1, "b": 2, "a": 3}',
    b'{"path": "p"}\r',
    b' \t{"path": "p"} \t\r\n',
    b'\x0b{"path": "p"}',
    b'{"path": "p"}\x0c',
    b'\xc2\xa0{"path": "p"}',
    b'{"path": "p"} {"path": "q"}',
    b'{"path": "p"}//comment',
    b'{"a": 1,}',
    b'{"a": [1,]}',
    b"{1: 2}",
    b"{}",
    b"[]",
    b"null",
    b"true",
    b"1.5",
    b"",
    b"   ",
    b'{"a": True}',
    b'{"a": nul}',
    b'{"a": {"b": {"c": [1, 2.5, "x", null, true, false, {"d": []}]}}}',
    # ordinary records, as walk and put write them
    b'{"s3pput":1,"path":"site/css/a.css","key":"www/css/a.css","size":120,"mtime":1700000000.25}',
    (
        b'{"s3pput":1,"path":"site/index.html","key":"www/index.html","size":11,'
        b'"mtime":1700000000.25,"status":"uploaded","bucket":"B",'
        b'"etag":"0d5d5a0c0f4f5cba4d4ee4d2f4a2a0a5","md5":"0d5d5a0c0f4f5cba4d4ee4d2f4a2a0a5",'
        b'"bytes":11,"content_type":"text/html","seconds":0.012,"ts":1700000100.5}'
    ),
    b'{"s3pput":1,"total_files":10000,"total_bytes":123456789}',
    b'{"path": "a", "seconds": 5.7e-05, "mtime": 1e16, "ts": 0.0001, "mine": [1, {"x": 1e-7}]}',
]
"""Every kind of line the suite feeds a stage, and the edges where msgspec and json differ."""


def outcome(parse: Callable[[bytes], object], line: bytes) -> tuple[str, str]:
    """What parsing ``line`` gives: the value's repr, or the error's message.

    A repr shows types (1, 1.0, True), key order and a float's exact value.
    """
    try:
        return "value", repr(parse(line))
    except RecordError as exc:
        return "error", str(exc)


@pytest.fixture(name="fast", autouse=True)
def fixture_fast() -> None:
    """Msgspec loaded, as it is in a process past its first FAST_AFTER lines."""
    strict_json._FAST.load()


class TestReading:
    @pytest.mark.parametrize("line", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
    def test_every_hostile_line_reads_as_the_standard_library_reads_it(self, line: bytes) -> None:
        """The same dict or the same error, for every line in the corpus."""
        assert outcome(read_fast, line) == outcome(json_object, line)

    @pytest.mark.parametrize("line", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
    def test_every_hostile_line_is_the_same_record(
        self, line: bytes, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """from_json over the fast path builds the same record, or fails with the same words."""
        fast = outcome(from_json, line)
        monkeypatch.setattr("s3pput.records.fast_object", lambda _: None)  # json alone, as before
        assert fast == outcome(from_json, line)

    def test_ordinary_records_take_the_fast_path(self) -> None:
        """Walk's and put's records are read by msgspec: the comparison above is not vacuous."""
        for line in HOSTILE_LINES[-4:-1]:
            assert fast_object(line) == json_object(line)

    @settings(max_examples=300)
    @given(st.data())
    def test_any_json_and_any_damage_read_the_same(self, data: st.DataObject) -> None:
        """Hypothesis: random values, written any way, then cut or corrupted, read the same."""
        value = data.draw(json_values)
        line = json.dumps(value, ensure_ascii=data.draw(st.booleans())).encode(
            "utf-8", "surrogatepass"
        )
        damage = data.draw(st.sampled_from(["none", "cut", "byte", "dup"]))
        if damage == "cut" and line:
            line = line[: data.draw(st.integers(0, len(line) - 1))]
        elif damage == "byte" and line:
            at = data.draw(st.integers(0, len(line) - 1))
            line = line[:at] + bytes([data.draw(st.integers(0, 255))]) + line[at + 1 :]
        elif damage == "dup" and line.startswith(b"{") and len(line) > 2:  # {}
            line = line[:-1] + b"," + line[1:]  # every key twice
        assert outcome(read_fast, line) == outcome(json_object, line)


class _Number(enum.IntEnum):
    ONE = 1


class _Text(str):
    __slots__ = ()


HOSTILE_OBJECTS: list[dict[object, object]] = [
    {"s3pput": 1, "path": "p", "key": "k", "size": 1, "mtime": value} for value in FLOAT_EDGES
]
HOSTILE_OBJECTS += [
    {"x": "".join(chr(c) for c in range(0x20)) + '\x7f"\\/\u2028\u2029\x85\ufeff'},
    {"x": "caf\xe9 \U0001f600 \u00a0"},
    {"x": "lone \ud800 surrogate"},
    {"x\udc80": "surrogate in a key"},
    {"path": "ok", "raw": "\udcff"},
    {"x": 2**64, "y": -(2**64), "z": 10**4299, "w": -(10**300)},
    {"x": 10**4300},
    {"x": True, "y": False, "z": None},
    {"x": math.inf},
    {"x": -math.inf},
    {"x": math.nan},
    {"x": [1, 2.5, {"y": 1e-7}], "z": {}},
    {"x": _Number.ONE},
    {"x": _Text("subclass")},
    {1: "int key"},
    {1.5: "float key"},
    {1e-05: "small float key"},
    {True: "bool key"},
    {None: "null key"},
    {(1, 2): "tuple key"},
    {"x": object()},
    {"x": (1, 2)},
    {"x": b"bytes"},
    {},
]
"""Values a record can carry, and some it should not: the writer must match json on each."""


def written(write: Callable[[dict[object, object]], bytes], obj: dict[object, object]) -> object:
    """What writing ``obj`` gives: its bytes, or the exception's type and message."""
    try:
        return write(obj)
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)


class TestWriting:
    @pytest.mark.parametrize("obj", HOSTILE_OBJECTS, ids=range(len(HOSTILE_OBJECTS)))
    def test_every_hostile_object_is_written_as_the_standard_library_writes_it(
        self, obj: dict[object, object]
    ) -> None:
        """The same bytes (or the same exception) from msgspec's writing and json's."""
        assert written(write_fast, obj) == written(json_line, obj)  # type: ignore[arg-type]

    @pytest.mark.parametrize("seconds", [0.012, 5.7e-05, 0.0])
    def test_records_as_put_writes_them_take_the_fast_path(self, seconds: float) -> None:
        """A result record is written by msgspec, a dry run's 5.7e-05 s too: not vacuous."""
        record = from_json(HOSTILE_LINES[-3]).evolve(seconds=seconds)
        obj = json.loads(to_json(record))
        assert fast_line(obj) == json_line(obj) == to_json(record)

    @given(st.dictionaries(st.text(), json_values))
    def test_any_object_is_written_the_same(self, obj: dict[str, object]) -> None:
        """Hypothesis: any JSON object, lone surrogates and extreme numbers too."""
        assert written(write_fast, obj) == written(json_line, obj)  # type: ignore[arg-type]

    def test_every_character_is_escaped_as_json_escapes_it(self) -> None:
        """Each code point but the surrogates, in a key and in a value: the same escapes."""
        every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
        for start in range(0, len(every), 4096):
            text = every[start : start + 4096]
            obj: dict[str, object] = {text: text, "path": text}
            assert write_fast(obj) == json_line(obj)

    def test_random_doubles_are_written_and_read_as_json_does(self) -> None:
        """100,000 doubles of random bits, every size and sign: the same text, the same bits."""
        rng = random.Random(15)  # noqa: S311  # a repeatable sample, no secret
        doubles = (
            struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
            for _ in range(100_000)
        )
        finite = [x for x in doubles if math.isfinite(x)]
        for at in range(0, len(finite), 100):
            obj = {f"f{n}": x for n, x in enumerate(finite[at : at + 100])}
            line = write_fast(obj)
            assert line == json_line(obj)
            assert repr(read_fast(line)) == repr(json_object(line))


class TestLoading:
    def test_msgspec_waits_for_a_long_run(self) -> None:
        """A process reads its first lines with json alone: msgspec loads on the FAST_AFTER-th."""
        switch = strict_json._Fast(3)
        assert [switch.ready() for _ in range(4)] == [False, False, True, True]

    def test_an_unloaded_codec_is_never_used(self) -> None:
        """Reading before ready() said so is a bug, loudly."""
        with pytest.raises(AssertionError, match="before it is loaded"):
            strict_json._Fast(3).object(b"{}")
