"""The summary of real runs against the SeaweedFS fixture: copies, skips, failures, replays.

Each test runs the installed commands through bash pipes, as a user types
them, and reads what ``s3pput-stat`` says and how it exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import pytest
from faultproxy import FaultProxy, answer, first

from s3pput.sandbox.local_s3 import LocalS3


def sh(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run a pipeline with bash, stdout and stderr captured."""
    return subprocess.run(
        ["bash", "-c", script], env=env, cwd=cwd, capture_output=True, timeout=240, check=False
    )


def lines_of(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    """The summary's lines."""
    return result.stdout.decode().splitlines()


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Path:
    """Five files of 2 KiB each."""
    root = tmp_path / "site"
    root.mkdir()
    for name in "abcde":
        (root / f"{name}.txt").write_bytes(name.encode() * 2048)
    return root


class TestCopyRun:
    def test_a_server_side_copy_says_what_it_copied(
        self, s3: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Three 4 KiB objects copied between buckets read ``copied 12.0 KiB in 3 files``."""
        source = f"src-{bucket[5:]}"
        s3.create_bucket(Bucket=source)
        for number in range(3):
            s3.put_object(Bucket=source, Key=f"src/{number}.bin", Body=b"x" * 4096)
        pipe = f"s3pput-walk s3://{source}/src | s3pput-put --bucket {bucket}"

        text = sh(f"{pipe} | s3pput-stat", s3_env, tmp_path)
        s3.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": f"{n}.bin"} for n in range(3)]}
        )
        as_json = sh(f"{pipe} | s3pput-stat --json", s3_env, tmp_path)

        assert text.returncode == 0, text.stderr
        lines = lines_of(text)
        assert lines[0].startswith("copied 12.0 KiB in 3 files server-side in "), lines
        assert "uploaded: 3 (3 copied server-side)" in lines
        summary = json.loads(as_json.stdout)
        assert (summary["uploaded"], summary["bytes"]) == (3, 0)  # as before: nothing was sent
        assert (summary["copied"], summary["copied_bytes"]) == (3, 3 * 4096)


class TestSkipRun:
    def test_skips_say_why(
        self, tree: Path, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A second run skips unchanged files; ``--put add`` skips existing ones: each is named."""
        upload = f"s3pput-walk {tree} | s3pput-put --bucket {bucket}"
        first = sh(f"{upload} | s3pput-stat", s3_env, tmp_path)
        (tree / "a.txt").write_bytes(b"changed")

        again = sh(f"{upload} | s3pput-stat", s3_env, tmp_path)
        added = sh(f"{upload} --put add | s3pput-stat --json", s3_env, tmp_path)

        assert first.returncode == 0, first.stderr
        assert lines_of(first)[0].startswith("put 10.0 KiB in 5 files in "), lines_of(first)
        assert again.returncode == 0, again.stderr
        assert "skipped:  4 (4 unchanged)" in lines_of(again)
        assert "uploaded: 1" in lines_of(again)
        summary = json.loads(added.stdout)
        assert summary["skipped_by_reason"] == {"exists": 5}


class TestRetries:
    def test_requests_the_store_refused_at_first_are_counted_as_retries(
        self, tree: Path, s3_server: LocalS3, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """The first two PUTs answered 503: every file uploaded, and 2 retries counted."""
        with FaultProxy(s3_server.s3_port, first(2, answer(503), methods={"PUT"})) as proxy:
            run = sh(
                f"s3pput-walk {tree} | s3pput-put --bucket {bucket} --endpoint-url {proxy.url} "
                "--no-cache | tee run.ndjson | s3pput-stat",
                s3_env,
                tmp_path,
            )
            refused = proxy.counts["ANSWER"]
        as_json = sh("s3pput-stat --json run.ndjson", s3_env, tmp_path)

        assert run.returncode == 0, run.stderr
        assert refused == 2
        assert "uploaded: 5" in lines_of(run)
        assert any(line.startswith("retries:  2 (") for line in lines_of(run)), lines_of(run)
        summary = json.loads(as_json.stdout)
        assert summary["retries"] == 2
        assert 1 <= summary["records_retried"] <= 2  # both refusals may hit one file


class TestInterrupted:
    def test_ctrl_c_leaves_interrupted_records_not_failures_and_a_replay_recovers_them(
        self, s3: Any, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Ctrl-C at 2 requests a second: the rest are interrupted, and the replay finishes them.

        Those put had not begun say so (``reason`` ``not started``): with ``-j 2``
        most of them.
        """
        root = tmp_path / "many"
        root.mkdir()
        for number in range(30):
            (root / f"{number:02}.txt").write_bytes(b"x" * 100)
        walked = sh(f"s3pput-walk {root} > walk.ndjson", s3_env, tmp_path)
        assert walked.returncode == 0, walked.stderr
        with (
            (tmp_path / "walk.ndjson").open("rb") as records,
            (tmp_path / "run.ndjson").open("wb") as results,
            subprocess.Popen(
                ["s3pput-put", "--bucket", bucket, "--max-requests", "2", "--no-cache", "-j", "2"],
                stdin=records,
                stdout=results,
                stderr=subprocess.PIPE,
                env=s3_env,
            ) as put,
        ):
            deadline = time.monotonic() + 120
            while not s3.list_objects_v2(Bucket=bucket).get("KeyCount"):
                assert put.poll() is None, "put ended before it could be interrupted"
                assert time.monotonic() < deadline, "nothing was ever uploaded"
                time.sleep(0.05)
            put.send_signal(signal.SIGINT)
            _, err = put.communicate(timeout=120)
        assert put.returncode == 130, err

        stopped = sh("s3pput-stat --json run.ndjson", s3_env, tmp_path)
        text = sh("s3pput-stat run.ndjson", s3_env, tmp_path)
        replay = sh(
            f"jq -c 'select(.status==\"failed\")' run.ndjson "
            f"| s3pput-put --bucket {bucket} > replay.ndjson",
            s3_env,
            tmp_path,
        )
        both = sh("s3pput-stat run.ndjson replay.ndjson", s3_env, tmp_path)

        summary = json.loads(stopped.stdout)
        assert summary["interrupted"] == summary["failed"] > 0, summary
        assert summary["uploaded"] + summary["failed"] == 30
        assert stopped.returncode == 1  # files are not in the bucket yet
        lines = lines_of(text)
        assert "failed:   0" in lines, lines
        never = summary["not_started"]
        assert 0 < never < summary["interrupted"], summary  # -j 2: most had not begun
        run = [json.loads(line) for line in (tmp_path / "run.ndjson").read_bytes().splitlines()]
        assert sum(r.get("reason") == "not started" for r in run) == never
        assert f"interrupted: {summary['interrupted']} ({never} never started; the run" in (
            text.stdout.decode()
        )
        assert replay.returncode == 0, replay.stderr
        assert both.returncode == 0, both.stdout
        assert f"interrupted: {summary['interrupted']} (all" in both.stdout.decode()


class TestOneCommand:
    def test_the_one_command_ends_with_the_same_summary(
        self, tree: Path, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """``s3pput`` prints stat's summary: human units, and the skips' reasons on a rerun."""
        first = sh(f"s3pput --bucket {bucket} {tree}", s3_env, tmp_path)
        again = sh(f"s3pput --bucket {bucket} {tree}", s3_env, tmp_path)

        assert first.returncode == 0, first.stderr
        assert lines_of(first)[0].startswith("put 10.0 KiB in 5 files in "), lines_of(first)
        assert again.returncode == 0, again.stderr
        assert "skipped:  5 (5 unchanged)" in lines_of(again)


class TestFailedAndReplayed:
    def test_a_replay_that_uploads_the_failures_recovers_them_and_exits_0(
        self, tree: Path, bucket: str, s3_env: dict[str, str], tmp_path: Path, s3: Any
    ) -> None:
        """run1 fails two files that vanished; once back, the replay uploads them: exit 0."""
        walked = sh(f"s3pput-walk {tree} > walk.ndjson", s3_env, tmp_path)
        assert walked.returncode == 0, walked.stderr
        kept = {name: (tree / name).read_bytes() for name in ("b.txt", "c.txt")}
        for name in kept:
            (tree / name).unlink()
        run1 = sh(f"s3pput-put --bucket {bucket} < walk.ndjson > run1.ndjson", s3_env, tmp_path)
        assert run1.returncode == 1, run1.stderr
        alone = sh("s3pput-stat run1.ndjson", s3_env, tmp_path)
        for name, data in kept.items():
            (tree / name).write_bytes(data)

        replay = sh(
            f"jq -c 'select(.status==\"failed\")' run1.ndjson "
            f"| s3pput-put --bucket {bucket} > replay.ndjson",
            s3_env,
            tmp_path,
        )
        both = sh("s3pput-stat run1.ndjson replay.ndjson", s3_env, tmp_path)
        both_json = sh("s3pput-stat --json run1.ndjson replay.ndjson", s3_env, tmp_path)

        assert alone.returncode == 1
        assert "failed:   2" in lines_of(alone)
        assert replay.returncode == 0, replay.stderr
        assert both.returncode == 0, both.stdout + both.stderr
        assert "failed:   2 (all 2 recovered later)" in lines_of(both)
        assert sorted(line for line in lines_of(both) if line.startswith("  ")) == [
            f"  {name} [put]: No such file or directory: {tree / name} (recovered later)"
            for name in ("b.txt", "c.txt")
        ]
        summary = json.loads(both_json.stdout)
        assert (summary["failed"], summary["recovered"], summary["still_failed"]) == (2, 2, 0)
        assert both_json.returncode == 0
        assert s3.get_object(Bucket=bucket, Key="b.txt")["Body"].read() == kept["b.txt"]

    def test_help_states_the_rule(self, tmp_path: Path) -> None:
        """``s3pput-stat --help`` says that each file's last record decides the exit status."""
        result = sh("s3pput-stat --help", {"PATH": _path()}, tmp_path)

        assert result.returncode == 0
        text = " ".join(result.stdout.decode().split())
        assert "0 every file's last record succeeded (recovered failures included)" in text
        assert "s3pput-stat run1.ndjson replay.ndjson" in text

    def test_the_last_record_decides_so_a_later_failure_exits_1(
        self, tree: Path, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Uploaded in one run and failed in a later one: the file's last record failed."""
        first = sh(
            f"s3pput-walk {tree} | tee walk.ndjson | s3pput-put --bucket {bucket} > ok.ndjson",
            s3_env,
            tmp_path,
        )
        assert first.returncode == 0, first.stderr
        (tree / "a.txt").unlink()
        later = sh(
            f"s3pput-put --bucket {bucket} --put stupid < walk.ndjson > later.ndjson",
            s3_env,
            tmp_path,
        )
        assert later.returncode == 1, later.stderr

        in_order = sh("s3pput-stat ok.ndjson later.ndjson", s3_env, tmp_path)
        reversed_order = sh("s3pput-stat later.ndjson ok.ndjson", s3_env, tmp_path)

        assert in_order.returncode == 1
        assert "failed:   1" in lines_of(in_order)
        assert reversed_order.returncode == 0  # read this way, the upload came last
        assert "failed:   1 (recovered later)" in lines_of(reversed_order)


class TestSavedJson:
    def test_json_keeps_every_field_of_before_and_only_adds(self, tmp_path: Path) -> None:
        """``--json`` of a saved mixed run: the object the earlier stat printed is all still there.

        EARLIER was printed by s3pput-stat --json before the human summary
        (commit 7ca25b9) for RUN; every field keeps its name, type and value.
        """
        (tmp_path / "run.ndjson").write_text(RUN)

        result = sh("s3pput-stat --json run.ndjson", {"PATH": _path()}, tmp_path)

        assert result.returncode == 1, result.stderr
        summary = json.loads(result.stdout)
        assert {name: summary[name] for name in EARLIER} == EARLIER
        assert {name: type(summary[name]) for name in EARLIER} == {
            name: type(value) for name, value in EARLIER.items()
        }
        assert summary["copied"] == 1
        assert summary["copied_bytes"] == 4000
        assert summary["skipped_by_reason"] == {"exists": 1, "unchanged": 1}
        assert (summary["interrupted"], summary["retries"], summary["records_retried"]) == (1, 3, 2)
        assert (summary["recovered"], summary["still_failed"]) == (0, 2)

    def test_json_never_writes_infinity_or_nan(self, tmp_path: Path) -> None:
        """Records a denormal apart, at the edge of the number range: strict JSON out."""
        far = 2**63 - 1
        (tmp_path / "edge.ndjson").write_text(
            f'{{"key":"a","status":"uploaded","bytes":{far},"ts":5e-324}}\n'
            f'{{"key":"b","status":"uploaded","bytes":{far},"ts":1e-323}}\n'
            f'{{"key":"c","status":"uploaded","bytes":{far},"ts":1e18,"seconds":0}}\n'
        )

        result = sh("s3pput-stat --json edge.ndjson", {"PATH": _path()}, tmp_path)

        assert result.returncode == 0, result.stderr
        assert b"Infinity" not in result.stdout
        assert b"NaN" not in result.stdout
        json.loads(result.stdout, parse_constant=_refuse)


def _refuse(name: str) -> None:
    raise AssertionError(f"not strict JSON: {name}")


def _path() -> str:
    """PATH with the test's virtualenv first, so the installed commands are found."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


_UP: Final = {"s3pput": 1, "status": "uploaded"}
_NOT_SENT: Final = {"s3pput": 1, "size": 10, "bytes": 0}
_FAILED: Final = {"s3pput": 1, "size": 10, "status": "failed", "stage": "put"}
RUN = (
    "".join(
        json.dumps(record) + "\n"
        for record in (
            {"s3pput": 1, "total_files": 8, "total_bytes": 9000},
            {
                **_UP,
                "path": "a",
                "key": "a",
                "size": 1000,
                "bytes": 1000,
                "attempts": 1,
                "seconds": 0.5,
                "ts": 100.0,
            },
            {
                **_UP,
                "path": "b",
                "key": "b",
                "size": 2000,
                "bytes": 2000,
                "attempts": 3,
                "seconds": 1.0,
                "ts": 102.0,
            },
            {
                **_UP,
                "key": "c",
                "size": 4000,
                "source_bucket": "old",
                "source_key": "c",
                "bytes": 0,
                "seconds": 0.1,
                "ts": 101.0,
            },
            {
                **_NOT_SENT,
                "path": "d",
                "key": "d",
                "status": "skipped",
                "reason": "unchanged",
                "ts": 101.0,
            },
            {
                **_NOT_SENT,
                "path": "e",
                "key": "e",
                "status": "skipped",
                "reason": "exists",
                "ts": 101.0,
            },
            {
                **_FAILED,
                "path": "f",
                "key": "f",
                "error": "PutObject: AccessDenied",
                "attempts": 2,
                "ts": 101.5,
            },
            {**_FAILED, "path": "g", "key": "g", "error": "interrupted", "ts": 102.0},
            {**_NOT_SENT, "path": "h", "key": "h", "status": "planned"},
        )
    )
    + "not json\n"
)
"""A mixed run: uploads, a copy, two skips, a failure, an interruption, a plan, a bad line."""

EARLIER: dict[str, object] = {
    "records": 8,
    "uploaded": 3,
    "skipped": 2,
    "failed": 2,
    "planned": 1,
    "pending": 0,
    "invalid": 1,
    "bytes": 3000,
    "seconds": 2.5,
    "bytes_per_second": 1200.0,
    "files_per_second": 1.2,
    "total_files": 8,
    "total_bytes": 9000,
    "missing": 0,
    "errors": [
        {
            "key": "f",
            "path": "f",
            "line": None,
            "source": None,
            "stage": "put",
            "error": "PutObject: AccessDenied",
        },
        {
            "key": "g",
            "path": "g",
            "line": None,
            "source": None,
            "stage": "put",
            "error": "interrupted",
        },
        {
            "key": None,
            "path": None,
            "line": 10,
            "source": "run.ndjson",
            "stage": "stat",
            "error": "not JSON: Expecting value: line 1 column 1 (char 0)",
        },
    ],
}
"""What s3pput-stat --json printed for RUN at 7ca25b9 (source: the file as named)."""
