"""A pipeline cannot say success when a stage died; the bucket is checked before any record."""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3


def sh(
    script: str, env: dict[str, str], cwd: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run a pipeline with bash, without pipefail: the exit status is the last stage's."""
    return subprocess.run(
        ["bash", "-c", script],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=240,
        check=False,
    )


def records(data: bytes) -> list[Record]:
    """Parse every line of a stage's output."""
    return [from_json(line) for line in data.splitlines() if line.strip()]


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Path:
    """Three small files."""
    root = tmp_path / "tree"
    root.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (root / name).write_text(name)
    return root


def without_credentials(env: dict[str, str]) -> dict[str, str]:
    """The environment with no AWS keys anywhere (and no instance metadata to ask)."""
    bare = {k: v for k, v in env.items() if k not in {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}}
    bare["AWS_EC2_METADATA_DISABLED"] = "true"
    return bare


class TestPipelineSaysAStageDied:
    def test_forgotten_bucket(self, tree: Path, s3_env: dict[str, str], tmp_path: Path) -> None:
        """Put without --bucket: stat (the pipeline, without pipefail) exits 2 and names it."""
        done = sh(f"s3pput-walk {tree} | s3pput-put | s3pput-stat", s3_env, tmp_path)
        assert done.returncode == 2, done
        assert b"stopped: put stopped before its end" in done.stdout
        assert b"--bucket" in done.stdout

    def test_no_credentials(self, tree: Path, s3_env: dict[str, str], tmp_path: Path) -> None:
        """No AWS keys: stat exits 2 and says so in one line."""
        done = sh(
            f"s3pput-walk {tree} | s3pput-put --bucket b | s3pput-stat",
            without_credentials(s3_env),
            tmp_path,
        )
        assert done.returncode == 2, done
        [line] = [x for x in done.stdout.splitlines() if x.startswith(b"stopped:")]
        assert b"no AWS credentials found" in line

    def test_a_dry_run_that_sends_nothing_needs_no_credentials(
        self, tree: Path, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--put stupid --dry-run lists and sends nothing: no keys, still every file planned."""
        done = sh(
            f"s3pput-walk {tree} | s3pput-put --bucket b --put stupid --dry-run "
            "| s3pput-stat --json",
            without_credentials(s3_env),
            tmp_path,
        )
        assert done.returncode == 0, done
        summary = json.loads(done.stdout)
        assert summary["planned"] == summary["records"] > 0, summary
        assert b"Traceback" not in done.stderr, done.stderr

    def test_missing_bucket(self, tree: Path, s3_env: dict[str, str], tmp_path: Path) -> None:
        """A bucket that does not exist: stat exits 2 naming NoSuchBucket, not 3 failures."""
        done = sh(
            f"s3pput-walk {tree} | s3pput-put --bucket gone-{secrets.token_hex(4)} | s3pput-stat "
            "--json",
            s3_env,
            tmp_path,
        )
        assert done.returncode == 2, done
        summary = json.loads(done.stdout)
        assert (summary["failed"], summary["records"]) == (0, 0)
        [stopped] = summary["stopped"]
        assert stopped["stage"] == "put"
        assert "NoSuchBucket" in stopped["error"]

    def test_walk_that_stops_reaches_stat_through_put(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """Walk --files-from a missing list: its stop record passes put unchanged; stat exits 2."""
        done = sh(
            f"s3pput-walk --files-from {tmp_path / 'no-list'} | s3pput-put --bucket {bucket} "
            "| tee run.ndjson | s3pput-stat",
            s3_env,
            tmp_path,
        )
        assert done.returncode == 2, done
        [stop] = records((tmp_path / "run.ndjson").read_bytes())
        assert (stop.status, stop.stage, stop.extra) == ("failed", "walk", {"fatal": True})
        assert "cannot read --files-from" in (stop.error or "")
        assert b"walk stopped before its end" in done.stdout

    def test_an_s3_source_that_cannot_be_listed_fails_the_pipeline(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """An S3 source that does not exist: walk's failed record reaches stat, which exits 1."""
        done = sh(
            f"s3pput-walk s3://gone-{secrets.token_hex(4)}/p | s3pput-put --bucket {bucket} "
            "| s3pput-stat --json",
            s3_env,
            tmp_path,
        )
        assert done.returncode == 1, done
        summary = json.loads(done.stdout)
        assert summary["failed"] == 1
        assert "NoSuchBucket" in summary["errors"][0]["error"]

    def test_hand_made_records_still_exit_0(self, s3_env: dict[str, str], tmp_path: Path) -> None:
        """Records with no header and no stop record: a clean summary, exit 0."""
        lines = b'{"path":"a","status":"uploaded","bytes":1}\n{"path":"b","status":"skipped"}\n'
        done = sh("s3pput-stat", s3_env, tmp_path, stdin=lines)
        assert done.returncode == 0, done
        assert b"stopped" not in done.stdout

    def test_no_stop_record_on_a_terminal(self, s3_env: dict[str, str], tmp_path: Path) -> None:
        """A person at a terminal reads the log line; no record is printed there."""
        done = sh("script -qec 's3pput-put' /dev/null", s3_env, tmp_path)
        assert b'"fatal"' not in done.stdout
        assert b"--bucket" in done.stdout


class TestBucketCheck:
    def test_missing_bucket_stops_at_once_with_one_line(
        self, s3_env: dict[str, str], s3_server: LocalS3, tmp_path: Path
    ) -> None:
        """1,000 records into a missing bucket: exit 2 in seconds, with one line.

        The line names the bucket and the endpoint; stdout holds one stop
        record and no failure per file.
        """
        stdin = b"".join(
            json.dumps({"path": str(tmp_path / f"f{n}"), "key": f"f{n}"}).encode() + b"\n"
            for n in range(1000)
        )
        bucket = f"gone-{secrets.token_hex(4)}"
        started = time.monotonic()
        done = sh(f"s3pput-put --bucket {bucket}", s3_env, tmp_path, stdin=stdin)
        assert time.monotonic() - started < 60
        assert done.returncode == 2, done
        [stop] = records(done.stdout)
        assert stop.extra == {"fatal": True}
        errors = [line for line in done.stderr.splitlines() if b"error" in line]
        assert len(errors) == 1, done.stderr
        assert bucket.encode() in errors[0]
        assert s3_server.endpoint_url.encode() in errors[0]
        assert b"NoSuchBucket" in errors[0]

    def test_unknown_access_key_stops(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """Keys the store does not know: exit 2 with InvalidAccessKeyId, nothing read."""
        env = {**s3_env, "AWS_ACCESS_KEY_ID": "AKNOSUCHKEY0000000000"}
        done = sh(f"s3pput-put --bucket {bucket}", env, tmp_path, stdin=b'{"path":"x"}\n')
        assert done.returncode == 2, done
        [stop] = records(done.stdout)
        assert "InvalidAccessKeyId" in (stop.error or "")

    def test_wrong_secret_stops(self, s3_env: dict[str, str], bucket: str, tmp_path: Path) -> None:
        """A wrong secret key: exit 2 with SignatureDoesNotMatch."""
        env = {**s3_env, "AWS_SECRET_ACCESS_KEY": "wrong" * 8}
        done = sh(f"s3pput-put --bucket {bucket}", env, tmp_path, stdin=b'{"path":"x"}\n')
        assert done.returncode == 2, done
        [stop] = records(done.stdout)
        assert "SignatureDoesNotMatch" in (stop.error or "")

    def test_dry_run_stupid_needs_no_s3(self, s3_env: dict[str, str], tmp_path: Path) -> None:
        """--dry-run --put stupid asks nothing of S3: an endpoint that is down does not matter."""
        (tmp_path / "f").write_text("f")
        done = sh(
            "s3pput-put --bucket nowhere --put stupid --dry-run --endpoint-url http://127.0.0.1:1",
            s3_env,
            tmp_path,
            stdin=json.dumps({"path": str(tmp_path / "f")}).encode() + b"\n",
        )
        assert done.returncode == 0, done
        [planned] = records(done.stdout)
        assert planned.status == "planned"

    def test_one_command_stops_on_a_missing_bucket(
        self, tree: Path, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """s3pput with a missing bucket: exit 2 before walking, NoSuchBucket on stderr."""
        done = sh(f"s3pput --bucket gone-{secrets.token_hex(4)} {tree}", s3_env, tmp_path)
        assert done.returncode == 2, done
        assert b"NoSuchBucket" in done.stderr


@dataclass
class WriteOnlyS3(LocalS3):
    """A server with a third identity that may write objects but not list them (a drop box)."""

    writer_access_key: str = "WK" + secrets.token_hex(8).upper()
    writer_secret_key: str = secrets.token_urlsafe(30)

    def _identities(self) -> dict[str, object]:
        identities = super()._identities()
        writer = {
            "name": "writer",
            "credentials": [
                {"accessKey": self.writer_access_key, "secretKey": self.writer_secret_key}
            ],
            "actions": ["Write"],
        }
        return {"identities": [*identities["identities"], writer]}  # type: ignore[misc]  # a list


@pytest.fixture(name="drop_box", scope="module")
def fixture_drop_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WriteOnlyS3]:
    """Its own server (the shared one has no write-only identity), stopped by PID at the end."""
    server = WriteOnlyS3(workdir=tmp_path_factory.mktemp("dropbox"))
    with server:
        yield server


class TestWriteOnlyCredentials:
    def env(self, base: dict[str, str], server: WriteOnlyS3) -> dict[str, str]:
        """The environment for the writer identity on the drop-box server."""
        return {
            **base,
            "AWS_ACCESS_KEY_ID": server.writer_access_key,
            "AWS_SECRET_ACCESS_KEY": server.writer_secret_key,
            "AWS_ENDPOINT_URL": server.endpoint_url,
        }

    def test_put_stupid_uploads_without_listings(
        self, drop_box: WriteOnlyS3, tree: Path, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """AccessDenied on the check is not fatal: --put stupid uploads, saying so once."""
        admin: Any = drop_box.client()
        bucket = f"drop-{secrets.token_hex(4)}"
        admin.create_bucket(Bucket=bucket)
        done = sh(
            f"s3pput-walk {tree} | s3pput-put --put stupid --bucket {bucket}",
            self.env(s3_env, drop_box),
            tmp_path,
        )
        assert done.returncode == 0, done
        assert {r.status for r in records(done.stdout)} == {"uploaded"}
        assert done.stderr.count(b"listings refused") == 1, done.stderr
        assert admin.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"a.txt"

    @pytest.mark.parametrize("mode", ["update", "add"])
    def test_update_and_add_say_they_need_listings(
        self,
        mode: str,
        drop_box: WriteOnlyS3,
        tree: Path,
        s3_env: dict[str, str],
        tmp_path: Path,
    ) -> None:
        """--put update/add cannot tell what exists without listings: exit 2, saying so."""
        admin: Any = drop_box.client()
        bucket = f"drop-{secrets.token_hex(4)}"
        admin.create_bucket(Bucket=bucket)
        done = sh(
            f"s3pput-walk {tree} | s3pput-put --put {mode} --bucket {bucket} | s3pput-stat",
            self.env(s3_env, drop_box),
            tmp_path,
        )
        assert done.returncode == 2, done
        assert f"--put {mode} needs ListBucket".encode() in done.stdout
        assert b"--put stupid" in done.stdout


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_log_reader_that_goes_away_stops_no_upload(
    s3_env: dict[str, str], bucket: str, tmp_path: Path, workers: str
) -> None:
    """``put -v 2>&1 >out | head -1``: the log is dropped, every record is still put and written.

    With worker processes put hung: a worker took its log's broken pipe for
    the output's and waited forever.
    """
    source = tmp_path / "src"
    source.mkdir()
    for n in range(40):
        (source / f"f{n:02}").write_text(f"file {n}\n")
    script = (
        f"s3pput-walk src | s3pput-put --workers {workers} --bucket {bucket} -v "
        "2>&1 >results.ndjson | head -1 >/dev/null; echo ${PIPESTATUS[1]} >put.status"
    )
    run = sh(script, s3_env, tmp_path)
    assert run.returncode == 0, run.stderr.decode()
    results = records((tmp_path / "results.ndjson").read_bytes())
    assert sorted(str(r.key) for r in results) == sorted(f"f{n:02}" for n in range(40))
    assert {r.status for r in results} == {"uploaded"}
    assert (tmp_path / "put.status").read_text().strip() == "0"
