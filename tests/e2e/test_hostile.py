"""Hostile input and output, end to end, against the real server.

The promise under test: every input record gets exactly one output record,
every ``uploaded`` record is in the bucket with the right bytes, the exit
code tells the truth, and stderr never shows a Python traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import unicodedata
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_cli_put_faults import (  # the fixture comes along with its module's helpers
    PUT,
    BlackHole,
    fixture_black_hole,  # noqa: F401  # a fixture, used by name
    make_files,
    ndjson,
    parse,
    put,
    results,
)

from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3

BIN = Path(sys.executable).parent
WALK = str(BIN / "s3pput-walk")
STAT = str(BIN / "s3pput-stat")

WRITE_ONLY = ("/sys/bus/pci/rescan", "/sys/class/zram-control/hot_remove")
"""Write-only sysfs files: opening one for reading fails even for root."""


@pytest.fixture(name="shared_bucket", scope="module")
def fixture_shared_bucket(s3_server: LocalS3) -> str:
    """One bucket for many small runs: the first write into a new bucket costs SeaweedFS ~1 s."""
    name = f"hostile-{secrets.token_hex(6)}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def keyed(paths: list[Path], prefix: str) -> bytes:
    """Records naming ``paths``, keyed ``prefix/NAME``."""
    return b"".join(
        json.dumps({"path": str(p), "key": f"{prefix}/{p.name}"}).encode() + b"\n" for p in paths
    )


def no_traceback(stderr: bytes) -> None:
    """A run may log errors, never a Python traceback."""
    assert b"Traceback" not in stderr, stderr[-4000:]


def stored(s3: Any, bucket: str, key: str) -> bytes:
    """The bytes of one object."""
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def object_count(s3: Any, bucket: str) -> int:
    """How many objects the bucket holds."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def local_path(record: Record) -> bytes:
    """The exact bytes of the path a record names (``path_b64`` arrives surrogate-escaped)."""
    assert record.path is not None
    return os.fsencode(record.path)


def assert_stored_truthfully(s3: Any, bucket: str, record: Record) -> bytes:
    """An uploaded record's object holds the file's bytes, and its fields say so."""
    assert record.status == "uploaded", (record.path, record.error)
    assert record.key is not None
    body = stored(s3, bucket, record.key)
    assert body == Path(os.fsdecode(local_path(record))).read_bytes(), record.key
    assert record.bytes == len(body), (record.key, record.bytes, len(body))
    if record.md5 is not None:  # put records it when it read the file whole
        assert record.md5 == hashlib.md5(body).hexdigest(), record.key  # noqa: S324  # S3's digest
    return body


GOOD = "@GOOD@"
"""Stands for the path of a real file in a bad line: the line, not the file, is at fault."""

BAD_LINES = {
    "nul-byte-raw": (b'{"path": "a\x00b", "key": "k"}', "not JSON"),
    "nul-byte-escaped": (b'{"path": "a\\u0000b", "key": "k"}', "NUL"),
    "nul-after-object": (b'{"path": "@GOOD@"}\x00', "not JSON"),
    "ten-megabytes": (b"x" * (10 << 20), "not JSON"),
    "binary-garbage": (
        b"\xff\xfe\x80\xc3\x28" + bytes(b for b in range(256) if b not in b"\r\n") * 16,
        "not JSON",
    ),
    "array": (b'[{"path": "@GOOD@"}]', "not a JSON object but list"),
    "number": (b"42", "not a JSON object but int"),
    "string": (b'"@GOOD@"', "not a JSON object but str"),
    "size-as-string": (b'{"path": "@GOOD@", "key": "s", "size": "3"}', "size must be"),
    "key-as-number": (b'{"path": "@GOOD@", "key": 5}', "key must be a str"),
    "deep-100000": (b"[" * 100_000, "nested too deeply"),
    "deep-user-field": (
        b'{"path": "@GOOD@", "key": "d", "x": ' + b"[" * 984 + b"]" * 984 + b"}",
        "nested more than",
    ),
    "float-overflow": (b'{"path": "@GOOD@", "key": "f", "x": 1e999}', "out of range"),
    "5000-digit-int": (b'{"path": "@GOOD@", "key": "i", "x": ' + b"9" * 5000 + b"}", "not JSON"),
    "nan": (b'{"path": "@GOOD@", "key": "n", "x": NaN}', "not valid JSON"),
    "lone-surrogate-path": (b'{"path": "a\\ud800b", "key": "u"}', "surrogate"),
    "newer-version": (b'{"s3pput": 99, "path": "@GOOD@"}', "upgrade s3pput"),
    "cut-json-last-line": (b'{"path": "@GOOD@", "key": "cu', "not JSON"),
}
"""A bad line (GOOD replaced by a real file's path) and what its error must say."""


class TestHostileStdin:
    def test_last_line_without_newline_is_uploaded(
        self, shared_bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A valid record cut off before its newline (CRLF input) is still a record."""
        paths = make_files(tmp_path, 3)
        stdin = keyed(paths, "cut").replace(b"\n", b"\r\n").removesuffix(b"\r\n")
        run = put("--bucket", shared_bucket, env=s3_env, stdin=stdin)
        assert run.returncode == 0, run.stderr
        no_traceback(run.stderr)
        records = results(stdin, run.stdout)
        assert sorted(str(r.key) for r in records) == [f"cut/{p.name}" for p in paths]
        for record in records:
            assert_stored_truthfully(s3, shared_bucket, record)

    @pytest.mark.parametrize("case", list(BAD_LINES))
    def test_bad_line_among_good_ones_gets_one_failed_record(
        self, case: str, shared_bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """One failed record, with its line number and a clear error; the good lines upload."""
        line, error = BAD_LINES[case]
        paths = make_files(tmp_path, 2)
        line = line.replace(GOOD.encode(), str(paths[0]).encode())
        good = keyed(paths, case).split(b"\n")[:2]
        last = case == "cut-json-last-line"
        lines = [*good, line] if last else [good[0], line, good[1]]
        stdin = b"\n".join(lines) + (b"" if last else b"\n")
        run = put("--bucket", shared_bucket, env=s3_env, stdin=stdin)
        assert run.returncode == 1, run.stderr[-4000:]
        no_traceback(run.stderr)
        assert len(run.stdout) < 1 << 20, "a huge line was echoed whole"
        records = results(stdin, run.stdout)
        failed = [r for r in records if r.status == "failed"]
        assert [r.line for r in failed] == [3 if last else 2], [(r.line, r.error) for r in records]
        assert error in (failed[0].error or ""), failed[0].error
        assert "internal error" not in (failed[0].error or "")
        uploaded = [r for r in records if r.status == "uploaded"]
        assert sorted(str(r.key) for r in uploaded) == [f"{case}/{p.name}" for p in paths]
        for record in uploaded:
            assert_stored_truthfully(s3, shared_bucket, record)

    @pytest.mark.parametrize(
        "command",
        [
            # A dry run of --put stupid asks nothing of S3: bucket "b" need not exist.
            [PUT, "--bucket", "b", "--put", "stupid", "--dry-run", "/proc/self/mem"],
            [WALK, "--files-from", "/proc/self/mem"],
            [STAT, "/proc/self/mem"],
        ],
        ids=["put", "walk", "stat"],
    )
    def test_input_that_cannot_be_read_is_a_fatal_error(
        self, command: list[str], s3_env: dict[str, str]
    ) -> None:
        """A record file whose read fails (EIO) exits 2 with one clear line, no traceback."""
        run = subprocess.run(command, env=s3_env, capture_output=True, timeout=60, check=False)
        assert run.returncode == 2, run.stderr
        no_traceback(run.stderr)
        assert b"Input/output error" in run.stderr, run.stderr


HUGE = "1" + "0" * 400
HUGE_NUMBERS = {
    "mtime": f'"mtime": {HUGE}',
    "seconds": f'"seconds": {HUGE}',
    "ts": f'"ts": {HUGE}',
    "size": f'"size": {HUGE}',
    "part_size": f'"part_size": {HUGE}, "upload_id": "u"',
    "attempts": f'"attempts": {HUGE}',
    "offset": f'"offset": {HUGE}, "member": "m"',
    "total_files": f'"total_files": {HUGE}',
    "total_bytes": f'"total_bytes": {HUGE}',
    "bytes": f'"bytes": {HUGE}',
    "line": f'"line": {HUGE}',
    "negative-mtime": '"mtime": -1e300',
    "negative-seconds": '"seconds": -1',
    "ts-1e308": '"ts": 1e308',
}
"""Numbers no float, clock or file system holds, each in one line of a batch."""


class TestHostileNumbers:
    def test_each_huge_number_is_one_failed_record_and_the_batch_uploads(
        self, shared_bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A 400-digit mtime (or ts, size...) fails its own line; the lines around it upload."""
        paths = make_files(tmp_path, 2)
        good = keyed(paths, "numbers").splitlines()
        bad = [
            f'{{"path": "{paths[0]}", "key": "numbers/bad-{name}", {fields}}}'.encode()
            for name, fields in HUGE_NUMBERS.items()
        ]
        stdin = b"\n".join([good[0], *bad, good[1]]) + b"\n"
        run = put("--bucket", shared_bucket, env=s3_env, stdin=stdin)
        assert run.returncode == 1, run.stderr[-4000:]
        no_traceback(run.stderr)
        records = results(stdin, run.stdout)
        failed = [r for r in records if r.status == "failed"]
        assert [r.line for r in failed] == list(range(2, 2 + len(bad)))
        for record, name in zip(failed, HUGE_NUMBERS, strict=True):
            field = name.removeprefix("negative-").removesuffix("-1e308")
            assert f"{field} " in (record.error or ""), (name, record.error)
        uploaded = [r for r in records if r.status == "uploaded"]
        assert sorted(str(r.key) for r in uploaded) == [f"numbers/{p.name}" for p in paths]
        for record in uploaded:
            assert_stored_truthfully(s3, shared_bucket, record)


KEY_ERRORS = {
    "": "empty key",
    "d/" + "\N{EURO SIGN}" * 400: "1202 bytes",
    "\N{EURO SIGN}" * 400: "1200 bytes",
    "a\x00b": "NUL",
    "d/a\x00b": "NUL",
    "k/": "ends with '/'",
    "/k/a": "starts with '/'",
    "k//a": "empty segment",
    "a/./b": "'.' segment",
    "a/../b": "'..' segment",
    "..": "'..' segment",
}
"""Keys S3 refuses or a store rewrites, and what the failed record must say about each."""

CONTROL_KEYS = ["c/a\nb", "c/a\rb", "c/a\r\nb", "c/a\tb", "c/a\x7fb", "c/a\x01b", "c/\x1b[31mred"]
"""Keys with control characters other than NUL: S3 stores them as they are."""


class TestKeys:
    @pytest.mark.parametrize(
        "mode",
        ["stupid", "add", "update"],
    )
    def test_refused_keys_fail_before_any_request(
        self, mode: str, black_hole: BlackHole, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Empty, over-long and NUL keys fail; no connection is opened but the bucket check's."""
        path = make_files(tmp_path, 1)[0]
        stdin = b"".join(
            json.dumps({"path": str(path), "key": key}).encode() + b"\n" for key in KEY_ERRORS
        )
        args = ["--bucket", "b", "--endpoint-url", black_hole.url, "--put", mode]
        run = put(*args, env=s3_env, stdin=stdin, timeout=60)
        assert run.returncode == 1, run.stderr
        no_traceback(run.stderr)
        for record in results(stdin, run.stdout):
            assert record.status == "failed"
            assert KEY_ERRORS[str(record.key)] in (record.error or ""), record.error
        assert not black_hole.wait_for(2, timeout=0.3), "a request was sent for a record"

    def test_refused_keys_leave_the_bucket_empty(
        self, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Against the real server the same keys fail the same way, and nothing is stored."""
        path = make_files(tmp_path, 1)[0]
        stdin = b"".join(
            json.dumps({"path": str(path), "key": key}).encode() + b"\n" for key in KEY_ERRORS
        )
        run = put("--bucket", bucket, "--put", "stupid", env=s3_env, stdin=stdin)
        assert run.returncode == 1, run.stderr
        no_traceback(run.stderr)
        for record in results(stdin, run.stdout):
            assert KEY_ERRORS[str(record.key)] in (record.error or ""), record.error
        assert object_count(s3, bucket) == 0

    def test_control_characters_in_keys_fail_when_refused(
        self, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """With --refuse-control-keys, LF, CR, tab, DEL, ESC: one clear failed record each."""
        path = make_files(tmp_path, 1)[0]
        stdin = b"".join(
            json.dumps({"path": str(path), "key": key}).encode() + b"\n" for key in CONTROL_KEYS
        )
        run = put("--bucket", bucket, "--refuse-control-keys", env=s3_env, stdin=stdin)
        assert run.returncode == 1, run.stderr
        for record in results(stdin, run.stdout):
            assert record.status == "failed"
            assert "control character U+00" in (record.error or ""), record.error
            assert "--refuse-control-keys" in (record.error or ""), record.error
        assert "Contents" not in s3.list_objects_v2(Bucket=bucket)

    @pytest.mark.parametrize("flags", [[], ["--allow-control-keys"]], ids=["default", "flag"])
    def test_control_characters_in_keys_are_stored_exactly_by_default(
        self, flags: list[str], bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Such keys are legal in S3 and round-trip unchanged; the old flag is still accepted."""
        path = make_files(tmp_path, 1)[0]
        stdin = b"".join(
            json.dumps({"path": str(path), "key": key}).encode() + b"\n" for key in CONTROL_KEYS
        )
        run = put("--bucket", bucket, *flags, env=s3_env, stdin=stdin)
        assert run.returncode == 0, run.stderr
        for record in results(stdin, run.stdout):
            assert_stored_truthfully(s3, bucket, record)
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="c/")["Contents"]
        assert sorted(o["Key"] for o in listed) == sorted(CONTROL_KEYS)
        again = put("--bucket", bucket, *flags, env=s3_env, stdin=stdin)
        assert {r.reason for r in results(stdin, again.stdout)} == {"unchanged"}

    def test_a_file_named_with_a_newline_and_a_tab_is_backed_up_by_default(
        self, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A walk | put uploads such a file under its exact name, as aws, s5cmd and rclone do."""
        tree = tmp_path / "tree"
        tree.mkdir()
        (tree / "line\nbreak\ttab.txt").write_bytes(b"odd name\n")
        (tree / "plain.txt").write_bytes(b"plain\n")
        walk = subprocess.run(
            [WALK, str(tree)], env=s3_env, capture_output=True, check=True, timeout=60
        )
        run = put("--bucket", bucket, env=s3_env, stdin=walk.stdout)
        assert run.returncode == 0, run.stderr
        listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert sorted(o["Key"] for o in listed) == ["line\nbreak\ttab.txt", "plain.txt"]
        assert stored(s3, bucket, "line\nbreak\ttab.txt") == b"odd name\n"


class TestUnsafeHeaders:
    @pytest.mark.parametrize(
        ("flags", "says"),
        [
            (["--header", "X-A: a\nb"], "line break"),
            (["--header", "X-A: a\rb"], "line break"),
            (["--header", "X-A: caf\N{LATIN SMALL LETTER E WITH ACUTE}"], "non-ASCII"),
            (["--header", "X-A: a\x7fb"], "control"),
            (["--header", "X-A: a\x1bb"], "control"),
            (["--header", "Bad Name: v"], "not a valid HTTP header name"),
            (["--header", ": v"], "not a valid HTTP header name"),
            (["--header", "N\N{LATIN SMALL LETTER A WITH CIRCUMFLEX}me: v"], "header name"),
            (["--header", "x-amz-meta-k: \N{LATIN SMALL LETTER E WITH ACUTE}"], "non-ASCII"),
            (["--header", "Host: evil.example"], "set by s3pput"),
            (["--header", "Authorization: AWS4 forged"], "set by s3pput"),
            (["--metadata", "k=v\n"], "line break"),
            (["--metadata", "k\n=v"], "not a valid HTTP header name"),
            (["--metadata", "k=a\rb"], "line break"),
            (["--metadata", "k=caf\N{LATIN SMALL LETTER E WITH ACUTE}"], "non-ASCII"),
            (["--metadata", "bad key=v"], "not a valid HTTP header name"),
            (["--metadata", "=v"], "not a valid HTTP header name"),
        ],
        ids=[
            "header-lf",
            "header-cr",
            "header-non-ascii",
            "header-del",
            "header-esc",
            "header-name-space",
            "header-name-empty",
            "header-name-non-ascii",
            "meta-header-non-ascii",
            "header-host",
            "header-authorization",
            "metadata-trailing-lf",
            "metadata-name-trailing-lf",
            "metadata-cr",
            "metadata-non-ascii",
            "metadata-name-space",
            "metadata-name-empty",
        ],
    )
    def test_is_a_usage_error_before_any_record_is_read(
        self,
        flags: list[str],
        says: str,
        black_hole: BlackHole,
        s3_env: dict[str, str],
    ) -> None:
        """Exit 2 with the reason on stderr while stdin is still open: nothing read or sent."""
        args = ["--bucket", "b", "--endpoint-url", black_hole.url, "--put", "stupid", *flags]
        proc = subprocess.Popen(
            [PUT, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=s3_env,
        )
        try:
            # stdin stays open and empty: a put that waited for records would time out here
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 2, stderr
        [stop] = [from_json(line) for line in stdout.splitlines()]  # a stop record, for stat
        assert (stop.status, stop.stage, stop.extra) == ("failed", "put", {"fatal": True})
        no_traceback(stderr)
        assert b"s3pput-put: error:" in stderr, stderr
        assert says.encode() in stderr, stderr
        assert not black_hole.wait_for(1, timeout=0.3), "a request was sent"


class TestHostileOutput:
    @pytest.mark.parametrize(
        "command",
        [
            "put",
            "walk",
            "stat",
            "s3pput",
            "put-abort-incomplete",
        ],
    )
    def test_full_disk_is_a_fatal_error(
        self, command: str, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """With stdout on /dev/full: exit 2, "No space left on device" on stderr, no traceback."""
        paths = make_files(tmp_path / "src", 3)
        stdin = ndjson(paths)
        argv = {
            "put": [PUT, "--bucket", bucket],
            "walk": [WALK, str(tmp_path / "src")],
            "stat": [STAT],
            "s3pput": [str(BIN / "s3pput"), "--bucket", bucket, str(tmp_path / "src")],
            "put-abort-incomplete": [PUT, "--bucket", bucket, "--abort-incomplete", "none/"],
        }[command]
        if command == "stat":
            stdin = b"".join(
                json.dumps({"key": p.name, "status": "uploaded", "bytes": 7}).encode() + b"\n"
                for p in paths
            )
        with Path("/dev/full").open("wb") as full:
            run = subprocess.run(
                argv,
                input=stdin,
                stdout=full,
                stderr=subprocess.PIPE,
                env=s3_env,
                timeout=60,
                check=False,
            )
        assert run.returncode == 2, run.stderr
        no_traceback(run.stderr)
        assert b"No space left on device" in run.stderr, run.stderr

    @pytest.mark.parametrize(
        ("stage", "status"), [("walk", 0), ("stat", 0), ("put", 1)], ids=["walk", "stat", "put"]
    )
    def test_pipefail_pipeline_gets_the_documented_status(
        self, stage: str, status: int, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """`set -o pipefail; CMD | head -1`: walk and stat exit 0, put 1, quietly."""
        src = tmp_path / "src"
        paths = make_files(src, 2000)
        records = tmp_path / "records.ndjson"
        records.write_bytes(ndjson(paths[:300]))
        summary = tmp_path / "results.ndjson"
        summary.write_bytes(
            b"".join(
                json.dumps({"key": p.name, "status": "failed", "error": f"e{p.name}"}).encode()
                + b"\n"
                for p in paths
            )
        )
        command = {
            "walk": f"s3pput-walk {src}",
            # stat writes its summary at the end: `true` has long gone by then
            "stat": f"s3pput-stat --errors 1000 {summary}",
            "put": f"s3pput-put --bucket {bucket} --put stupid {records}",
        }[stage]
        reader = "true" if stage == "stat" else "head -1"
        script = f"set -o pipefail; {command} | {reader} >/dev/null; echo $?"
        run = subprocess.run(
            ["bash", "-c", script], env=s3_env, capture_output=True, timeout=120, check=False
        )
        no_traceback(run.stderr)
        assert run.stdout.strip() == str(status).encode(), run.stderr
        if stage != "put":
            assert run.stderr == b"", run.stderr
        else:
            assert b"output closed before every result was written" in run.stderr, run.stderr


def make_hostile_tree(root: Path) -> dict[bytes, str]:
    """Build a tree of hostile names and special files; map each name to what it is.

    The kinds: ``file`` (must upload), ``fifo``, ``socket``, ``broken``,
    ``loop`` (walk fails them), ``race-*`` (changed between walk and put),
    ``unreadable`` and ``no-read-bit`` (see the test).
    """
    root.mkdir()
    names = [
        "new\nline",
        "carriage\rreturn",
        "tab\there",
        "-leading-dash",
        " leading space",
        "trailing space ",
        "quotes \"double\" 'single'",
        "back\\slash",
        "percent%2Fslash",
        "percent%",
        "emoji \N{GRINNING FACE}",
        unicodedata.normalize("NFC", "caf\N{LATIN SMALL LETTER E WITH ACUTE}"),
        unicodedata.normalize("NFD", "caf\N{LATIN SMALL LETTER E WITH ACUTE}"),
        "x" * 255,
        "...",
        "empty",
    ]
    kinds: dict[bytes, str] = {}
    for name in names:
        path = root / name
        path.write_bytes(b"" if name == "empty" else os.fsencode(name) + b"\n")
        kinds[os.fsencode(name)] = "control" if any(c in name for c in "\n\r\t") else "file"
    assert len(list(root.iterdir())) == len(names), "this file system merged names"
    raw = os.fsencode(root) + b"/not-utf8-\xff\xfe"
    with open(raw, "wb") as stream:
        stream.write(b"bytes that are not a UTF-8 name\n")
    kinds[b"not-utf8-\xff\xfe"] = "file"
    os.mkfifo(root / "fifo")
    kinds[b"fifo"] = "fifo"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "socket"))
    kinds[b"socket"] = "socket"
    (root / "broken").symlink_to("nowhere")
    kinds[b"broken"] = "broken"
    (root / "self-loop").symlink_to("self-loop")
    kinds[b"self-loop"] = "loop"
    (root / "dir").mkdir()
    (root / "dir" / "inner").write_bytes(b"inside a directory\n")
    kinds[b"dir/inner"] = "file"
    (root / "dir" / "up").symlink_to("..")  # a directory loop
    kinds[b"dir/up"] = "loop"
    (root / "dir-link").symlink_to("dir")
    kinds[b"dir-link/inner"] = "file"
    kinds[b"dir-link/up"] = "loop"
    (root / "empty-dir").mkdir()
    no_read = root / "no-read-bit"
    no_read.write_bytes(b"mode 000\n")
    no_read.chmod(0)
    kinds[b"no-read-bit"] = "no-read-bit"
    unreadable = next((p for p in WRITE_ONLY if _unreadable(p)), None)
    if unreadable is not None:
        (root / "write-only").symlink_to(unreadable)
        kinds[b"write-only"] = "unreadable"
    else:
        warnings.warn(
            "no write-only sysfs file here: the root-proof unreadable case is left out",
            stacklevel=2,
        )
    race = root / "race"
    race.mkdir()
    for name in ("grows", "shrinks", "vanishes"):
        (race / name).write_bytes(b"0123456789")
        kinds[f"race/{name}".encode()] = f"race-{name}"
    for name in ("big-grows", "big-shrinks"):  # above the 8M multipart threshold
        (race / name).write_bytes(os.urandom(9 << 20))
        kinds[f"race/{name}".encode()] = f"race-{name}"
    return kinds


def _unreadable(path: str) -> bool:
    """Whether ``path`` exists and opening it for reading fails (for root too)."""
    if not Path(path).exists():
        return False
    try:
        with open(path, "rb"):
            return False
    except OSError:
        return True


def change_between_walk_and_put(record: Record, root: Path) -> None:
    """Change a race file after walk wrote its record and before put reads it."""
    name = Path(os.fsdecode(local_path(record))).relative_to(root).as_posix()
    path = root / name
    if name == "race/vanishes":
        path.unlink()
    elif name in {"race/grows", "race/big-grows"}:
        with path.open("ab") as stream:
            stream.write(b"+grown")
    elif name == "race/shrinks":
        os.truncate(path, 4)
    elif name == "race/big-shrinks":
        os.truncate(path, 6 << 20)


def walk_into_put(
    root: Path, bucket: str, env: dict[str, str], tmp_path: Path, between: Callable[[Record], None]
) -> tuple[int, bytes, int, bytes, bytes]:
    """Run ``s3pput-walk ROOT | s3pput-put``, calling ``between`` on each record in the middle.

    Returns walk's exit status and output, then put's exit status, output and stderr.
    """
    put_out, put_err, walk_err = (tmp_path / n for n in ("put.out", "put.err", "walk.err"))
    with put_out.open("wb") as out, put_err.open("wb") as err, walk_err.open("wb") as werr:
        walk = subprocess.Popen([WALK, str(root)], stdout=subprocess.PIPE, stderr=werr, env=env)
        uploader = subprocess.Popen(
            [PUT, "--bucket", bucket], stdin=subprocess.PIPE, stdout=out, stderr=err, env=env
        )
        assert walk.stdout is not None
        assert uploader.stdin is not None
        walked = b""
        try:
            for line in walk.stdout:
                between(from_json(line))
                uploader.stdin.write(line)
                uploader.stdin.flush()
                walked += line
            uploader.stdin.close()
            walk_status = walk.wait(timeout=60)
            put_status = uploader.wait(timeout=120)
        finally:
            for proc in (walk, uploader):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    no_traceback(walk_err.read_bytes())
    return walk_status, walked, put_status, put_out.read_bytes(), put_err.read_bytes()


class TestHostileTree:
    def test_walk_into_put_tells_the_truth_about_every_file(
        self, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Every walked name gets one result: files stored byte for byte, the rest failed."""
        root = tmp_path / "tree"
        kinds = make_hostile_tree(root)
        walk_status, walked, put_status, out, err = walk_into_put(
            root, bucket, s3_env, tmp_path, lambda r: change_between_walk_and_put(r, root)
        )
        assert walk_status == 1  # fifo, socket, broken link, loops
        assert put_status == 1, err
        no_traceback(err)
        records = results(walked, out)
        prefix = os.fsencode(root) + b"/"
        by_name = {local_path(r).removeprefix(prefix): r for r in records}
        assert sorted(by_name) == sorted(kinds), "a name is missing, doubled or unexpected"
        walk_failures = {
            "fifo": "not a regular file: fifo",
            "socket": "not a regular file: socket",
            "broken": "broken symlink",
            "loop": "symlink loop",
        }
        for name, kind in kinds.items():
            record = by_name[name]
            if kind in walk_failures:
                assert (record.status, record.stage) == ("failed", "walk"), (name, record)
                assert walk_failures[kind] in (record.error or ""), (name, record.error)
            elif kind == "race-vanishes":
                assert (record.status, record.stage) == ("failed", "put"), record
                assert "No such file or directory" in (record.error or ""), record.error
            elif kind == "unreadable":  # how clearly it says so: see TestInternalErrors
                assert (record.status, record.stage) == ("failed", "put"), record
            elif kind == "no-read-bit" and not os.access(root / "no-read-bit", os.R_OK):
                assert record.status == "failed", record
                assert "Permission denied" in (record.error or ""), record.error
            else:  # files (line breaks and tabs too), a mode-000 file root can read, races
                body = assert_stored_truthfully(s3, bucket, record)
                if kind == "control":  # uploaded by default, under the exact name
                    assert record.key == local_path(record).removeprefix(prefix).decode()
                if kind.startswith("race-"):
                    assert record.size != len(body), "size is walk's, bytes what was stored"
        uploaded = [r for r in records if r.status == "uploaded"]
        assert object_count(s3, bucket) == len(uploaded), "two records share an object"
        assert by_name[b"not-utf8-\xff\xfe"].key == "not-utf8-%FF%FE"
        nfc, nfd = (
            by_name[unicodedata.normalize(form, "caf\N{LATIN SMALL LETTER E WITH ACUTE}").encode()]
            for form in ("NFC", "NFD")
        )
        assert nfc.key != nfd.key

    def test_empty_tree_and_empty_file(
        self, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """An empty directory gives no record; an empty file uploads as an empty object."""
        root = tmp_path / "tree"
        (root / "empty-dir" / "deeper").mkdir(parents=True)
        (root / "empty").write_bytes(b"")
        script = f"set -o pipefail; s3pput-walk {root} | s3pput-put --bucket {bucket}"
        run = subprocess.run(
            ["bash", "-c", script], env=s3_env, capture_output=True, timeout=60, check=False
        )
        assert run.returncode == 0, run.stderr
        (record,) = parse(run.stdout)
        assert record.key == "empty"
        assert assert_stored_truthfully(s3, bucket, record) == b""


SITECUSTOMIZE = '''\
"""Injected by test_hostile: a lane step that crashes for the key "crash-me"."""
import os

import s3pput.put.uploader

_begin = s3pput.put.uploader.Uploader.begin


def _crashing_begin(self, record, *args, **kwargs):
    if record.key == "crash-me":
        secret = os.environ["AWS_SECRET_ACCESS_KEY"]  # a local: shown if locals ever are
        raise RuntimeError("injected fault, secret %d characters long" % len(secret))
    return _begin(self, record, *args, **kwargs)


s3pput.put.uploader.Uploader.begin = _crashing_begin
'''


class TestSecrets:
    @pytest.mark.parametrize(
        ("log_format", "credentials"),
        [
            ("json", "wrong-secret"),
            ("console", "wrong-secret"),
            ("logfmt", "wrong-secret"),
            ("json", "session-token"),
        ],
        ids=["json", "console", "logfmt", "json-session-token"],
    )
    def test_refused_signature_and_internal_error_do_not_leak_secrets(
        self,
        log_format: str,
        credentials: str,
        bucket: str,
        s3_env: dict[str, str],
        tmp_path: Path,
    ) -> None:
        """At -vv, a wrong secret key (refused) and a logged internal error keep secrets out.

        Keys the store refuses stop put at its bucket check (exit 2, one stop
        record), so the internal error is provoked by a second run with the
        server's own keys, whose secret must not show either.
        """
        secret = "HostileWrongSecret" + "k" * 22
        session = "HostileFakeSessionToken" + "t" * 40
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        path = os.pathsep.join(filter(None, [str(site), s3_env.get("PYTHONPATH")]))
        env = {**s3_env, "AWS_SECRET_ACCESS_KEY": secret, "PYTHONPATH": path}
        token = credentials == "session-token"
        if token:
            env["AWS_SESSION_TOKEN"] = session
        small = make_files(tmp_path / "src", 2)
        large = tmp_path / "src" / "large.bin"
        large.write_bytes(b"L" * 4096)  # above --multipart-threshold: boto3 signs those
        stdin = (
            ndjson([*small, large])
            + json.dumps({"path": str(small[0]), "key": "crash-me"}).encode()
            + b"\n"
        )
        args = ["--bucket", bucket, "--put", "stupid", "--multipart-threshold", "1K"]
        run = put(*args, "-vv", "--log-format", log_format, env=env, stdin=stdin)
        assert run.returncode == 2, run.stderr
        [stop] = [from_json(line) for line in run.stdout.splitlines()]
        refusal = "InvalidAccessKeyId" if token else "SignatureDoesNotMatch"
        assert refusal in (stop.error or ""), stop.error
        own = {**s3_env, "PYTHONPATH": path}
        crashed = put(*args, "-vv", "--log-format", log_format, env=own, stdin=stdin)
        assert crashed.returncode == 1, crashed.stderr
        records = {r.key: r for r in results(stdin, crashed.stdout)}
        assert "internal error: RuntimeError: injected fault" in str(records["crash-me"].error)
        assert {records[k].status for k in (small[0].name, large.name)} == {"uploaded"}
        assert b"internal error" in crashed.stderr, crashed.stderr
        if log_format == "console":
            assert b"Traceback" in crashed.stderr, "the internal error's traceback was not logged"
        for text in (secret, session):
            assert text.encode() not in run.stdout
            assert text.encode() not in run.stderr
        assert s3_env["AWS_SECRET_ACCESS_KEY"].encode() not in crashed.stdout + crashed.stderr


class TestInternalErrors:
    def test_resume_record_with_part_size_zero_fails_clearly(
        self, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A replayed record whose part_size is 0 is not an internal error."""
        big = tmp_path / "big.bin"
        big.write_bytes(b"b" * (9 << 20))
        record = {"path": str(big), "key": "big", "upload_id": "gone", "part_size": 0}
        stdin = json.dumps(record).encode() + b"\n"
        run = put("--bucket", bucket, env=s3_env, stdin=stdin)
        (result,) = results(stdin, run.stdout)
        assert "internal error" not in (result.error or ""), result.error

    def test_unreadable_file_error_names_the_local_cause(
        self, shared_bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A file that cannot be opened for reading (even by root) fails as "Permission denied"."""
        target = next((p for p in WRITE_ONLY if _unreadable(p)), None)
        if target is None:
            pytest.skip("no write-only sysfs file here to stand for an unreadable file")
        link = tmp_path / "unreadable"
        link.symlink_to(target)
        stdin = keyed([link], "unreadable")
        run = put("--bucket", shared_bucket, env=s3_env, stdin=stdin)
        (result,) = results(stdin, run.stdout)
        assert result.status == "failed"
        assert "Permission denied" in (result.error or ""), result.error

    def test_tar_member_offset_beyond_any_file_fails_clearly(
        self, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A member record whose offset no file can have is not an internal error."""
        path = make_files(tmp_path, 1)[0]
        record = {"path": str(path), "key": "m", "member": "a", "offset": 10**23, "size": 10**23}
        stdin = json.dumps(record).encode() + b"\n"
        run = put("--bucket", bucket, env=s3_env, stdin=stdin)
        (result,) = results(stdin, run.stdout)
        assert "internal error" not in (result.error or ""), result.error

    @pytest.mark.parametrize("cache", ["directory", "garbage"])
    def test_unusable_checksum_cache_is_no_crash(
        self, cache: str, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A cache path that is a directory or not a database: a clear error or no cache."""
        path = tmp_path / "cache"
        if cache == "directory":
            path.mkdir()
        else:
            path.write_bytes(b"not a database\n" * 100)
        stdin = ndjson(make_files(tmp_path / "src", 1))
        run = put("--bucket", bucket, "--cache", str(path), env=s3_env, stdin=stdin)
        no_traceback(run.stderr)
        assert run.returncode in {0, 2}, run.stderr
        if run.returncode == 0:
            results(stdin, run.stdout)
