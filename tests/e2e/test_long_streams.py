"""Long streams read and write records through msgspec: the same lines, the same errors.

A stage switches from the standard library's json to msgspec after its first
strict_json.FAST_AFTER lines. These runs put the hostile lines after that
point and compare each stage's output with a short run's, through real pipes;
a short run must not import msgspec at all (its start-up stays as it was).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from s3pput.strict_json import FAST_AFTER

BIN = Path(sys.executable).parent
PUT = [str(BIN / "s3pput-put"), "--bucket", "b", "--dry-run", "--put", "stupid"]
STAT = [str(BIN / "s3pput-stat"), "--json", "--errors", "1000"]
PADDING = FAST_AFTER + 200
"""Good lines before the hostile ones: past the switch, whatever counts towards it."""

BAD_LINES = [
    b'{"path": "@F@", "key": "k", "x": 1e999}',
    b'{"path": "@F@", "x": NaN}',
    b'{"path": "@F@", "x": ' + b"9" * 5000 + b"}",
    b'{"path": "@F@", "x": ' + b"[" * 984 + b"]" * 984 + b"}",
    b"[" * 100_000,
    b'{"path": "a\\ud800b"}',
    b'{"path": "\xed\xa0\x80"}',
    b'{"path": "caf\xe9"}',
    b'\xef\xbb\xbf{"path": 1}',
    b'{"path": "@F@", "size": "3"}',
    b'{"path": "@F@", "mtime": 1' + b"0" * 400 + b"}",
    b'{"s3pput": 99, "path": "@F@"}',
    b'[{"path": "@F@"}]',
    b'{"path": "@F@"}\x00',
    b'{"path": "@F@", "key": "cu',
]
"""Lines every stage refuses, each with its own reason."""

ODD_RECORDS = [
    b'{"path": "@F@", "key": "odd/surrogate", "mine": "\\udc80"}',
    b'{"path": "@F@", "key": "odd/tiny", "mine": 1e-05}',
    b'{"path": "@F@", "key": "odd/big", "mine": 1e+16}',
    b'{"path": "@F@", "key": "odd/huge-int", "mine": ' + b"7" * 400 + b"}",
    b'{"path": "@F@", "key": "odd/nested", "mine": [1, {"a": [2.5, null]}]}',
    b'{"path": "@F@", "key": "odd/dup", "mine": 1, "mine": 2, "key": "odd/dup2"}',
    b'\xef\xbb\xbf{"path": "@F@", "key": "odd/bom"}',
    b'{"path": "@F@", "key": "odd/controls \\u0001\\u001f\\u007f \xe2\x80\xa8", "x": true}',
    b'{"path": "@F@", "key": "odd/utf8 caf\xc3\xa9 \xf0\x9f\x98\x80"}\r',
]
"""Records put plans: each kept field must come out byte for byte as a short run writes it."""


def run(command: list[str], stdin: bytes, *, importtime: bool = False) -> Any:
    """One run of a stage, its output captured; with ``importtime`` it lists its imports."""
    argv = [sys.executable, "-X", "importtime", *command] if importtime else command
    env = {"PATH": os.environ["PATH"]}  # no AWS settings: a dry run of --put stupid asks nothing
    return subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=300, check=False)


def lines_for(path: Path, lines: list[bytes]) -> bytes:
    """``lines`` naming the real file ``path``, each ended by a newline."""
    return b"".join(line.replace(b"@F@", str(path).encode()) + b"\n" for line in lines)


def padding(files: list[Path]) -> bytes:
    """Good walk records for ``files``, as many as PADDING, a file each."""
    return b"".join(
        json.dumps({"path": str(p), "key": f"pad/{p.name}"}).encode() + b"\n" for p in files
    )


@pytest.fixture(name="files")
def fixture_files(tmp_path: Path) -> list[Path]:
    """PADDING small files for put to plan."""
    root = tmp_path / "tree"
    root.mkdir()
    paths = [root / f"f{n:05d}" for n in range(PADDING)]
    for path in paths:
        path.write_bytes(b"x")
    return paths


_TIMING = re.compile(rb'"(seconds|ts)":[^,}]+')
_LINE_NUMBER = re.compile(rb'("error":"line |"line":)(\d+)')
"""Where a failed record names its line: the error's start and the line field."""


def normalised(line: bytes, offset: int) -> bytes:
    """A result line with its timing blanked and its line numbers less ``offset``."""
    line = _TIMING.sub(rb'"\1":0', line)
    return _LINE_NUMBER.sub(lambda m: m[1] + str(int(m[2]) - offset).encode(), line)


class TestPutOverALongStream:
    def test_hostile_lines_late_in_a_run_come_out_as_early_ones(self, files: list[Path]) -> None:
        """Past the switch, put writes each hostile or odd line's result byte for byte as before."""
        tail = lines_for(files[0], BAD_LINES + ODD_RECORDS)
        short = run(PUT, tail)
        long = run(PUT, padding(files) + tail)
        assert short.returncode == long.returncode == 1, long.stderr[-2000:]
        assert b"Traceback" not in long.stderr
        early = sorted(normalised(x, 0) for x in short.stdout.splitlines())
        late = sorted(normalised(x, PADDING) for x in long.stdout.splitlines() if b'"pad/' not in x)
        assert late == early
        assert len(long.stdout.splitlines()) == PADDING + len(BAD_LINES) + len(ODD_RECORDS)

    def test_a_short_run_never_loads_msgspec(self, files: list[Path]) -> None:
        """A few records are read and written by json alone: msgspec's import is not paid."""
        few = run(PUT, padding(files[:10]), importtime=True)
        assert few.returncode == 0, few.stderr[-2000:]
        assert b"msgspec" not in few.stderr
        many = run(PUT, padding(files), importtime=True)
        assert many.returncode == 0, many.stderr[-2000:]
        assert b"msgspec" in many.stderr


class TestStatOverALongStream:
    def test_hostile_lines_late_in_a_run_count_as_early_ones(self, files: list[Path]) -> None:
        """Past the switch, stat counts and names each bad line as it did before."""
        tail = lines_for(files[0], BAD_LINES + ODD_RECORDS)
        short = json.loads(run(STAT, tail).stdout)
        long = json.loads(run(STAT, padding(files) + tail).stdout)
        assert (long["invalid"], long["pending"]) == (
            short["invalid"],
            short["pending"] + PADDING,
        )
        assert short["invalid"] == len(BAD_LINES)
        for error in short["errors"]:
            error["line"] += PADDING
        assert long["errors"] == short["errors"]

    def test_a_short_run_never_loads_msgspec(self, files: list[Path]) -> None:
        """Stat over a few lines reads them with json alone; over many, with msgspec."""
        assert b"msgspec" not in run(STAT, padding(files[:10]), importtime=True).stderr
        assert b"msgspec" in run(STAT, padding(files), importtime=True).stderr
