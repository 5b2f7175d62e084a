"""s3pput-local-s3, the throwaway server: a bad request is a one-line error; a crash restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

from s3pput.sandbox.local_s3 import LocalS3

LOCAL_S3 = str(Path(sys.executable).parent / "s3pput-local-s3")


def test_an_invalid_bucket_name_is_a_usage_error_not_a_traceback() -> None:
    """The server starts, refuses the name, and the command stops it and exits 2."""
    done = subprocess.run(
        [LOCAL_S3, "--bucket", "b"], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert b"cannot create bucket 'b': InvalidBucketName" in done.stderr
    assert b"Traceback" not in done.stderr


def test_the_env_file_appears_once_the_bucket_exists(tmp_path: Path) -> None:
    """A script that starts as soon as the env file is there finds its bucket (make demo)."""
    env_file = tmp_path / "env"
    server = subprocess.Popen(
        [LOCAL_S3, "--bucket", "ready", "--env-file", str(env_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        settings = dict(
            line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
        )
        client = boto3.client(
            "s3",
            endpoint_url=settings["AWS_ENDPOINT_URL"],
            aws_access_key_id=settings["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=settings["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        client.head_bucket(Bucket="ready")  # raises (404) if the file came first
        assert oct(env_file.stat().st_mode & 0o777) == oct(0o600)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def test_the_env_file_goes_when_the_server_stops(tmp_path: Path) -> None:
    """Stopped (SIGTERM), the server takes its env file along: it would point at nothing."""
    env_file = tmp_path / "env"
    server = subprocess.Popen(
        [LOCAL_S3, "--env-file", str(env_file)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while not env_file.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert env_file.exists()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert server.returncode == 0
    assert not env_file.exists()


def test_an_env_file_left_from_an_earlier_run_is_removed_first(tmp_path: Path) -> None:
    """An old file would tell a waiting script "ready" now; a refused bucket then leaves none."""
    env_file = tmp_path / "env"
    env_file.write_text("export AWS_ENDPOINT_URL=http://127.0.0.1:9\n")
    done = subprocess.run(
        [LOCAL_S3, "--bucket", "b", "--env-file", str(env_file)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert not env_file.exists()


def test_an_env_file_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """--env-file in a directory that does not exist: exit 2, one line, the server stopped."""
    env_file = tmp_path / "missing" / "env"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = subprocess.run(
        [LOCAL_S3, "--env-file", str(env_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(scratch)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr
        == f"s3pput-local-s3: cannot write --env-file {env_file}: No such file or directory\n"
    )
    assert list(scratch.iterdir()) == []  # the server stopped and its directory went


def test_a_refused_bucket_leaves_no_env_file(tmp_path: Path) -> None:
    """A bucket name the server refuses: exit 2 and no env file pointing at nothing."""
    env_file = tmp_path / "env"
    done = subprocess.run(
        [LOCAL_S3, "--bucket", "b", "--env-file", str(env_file)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert not env_file.exists()


def test_a_killed_server_restarts_with_its_data_at_the_same_address(tmp_path: Path) -> None:
    """kill() drops the endpoint; restart() serves the same objects there to the same client."""
    with LocalS3(workdir=tmp_path / "s3") as server:
        client = server.client(config=botocore.config.Config(retries={"total_max_attempts": 1}))
        client.create_bucket(Bucket="kept")
        client.put_object(Bucket="kept", Key="k", Body=b"survives")
        endpoint = server.endpoint_url
        server.kill()
        assert server.process is None
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.s3_port), timeout=2)
        server.restart()
        assert server.endpoint_url == endpoint
        assert client.get_object(Bucket="kept", Key="k")["Body"].read() == b"survives"
        client.put_object(Bucket="kept", Key="new", Body=b"after")
        assert client.get_object(Bucket="kept", Key="new")["Body"].read() == b"after"


def test_the_volume_limit_is_ours_and_a_dropped_bucket_frees_its_volume(tmp_path: Path) -> None:
    """The limit does not depend on free disk; drop_bucket_data makes room for the next bucket.

    The test suite relies on both: one volume per test bucket, freed when the test ends.
    """
    with LocalS3(workdir=tmp_path / "s3", max_volumes=2) as server:
        client = server.client(config=botocore.config.Config(retries={"total_max_attempts": 1}))
        for name in ("first", "second", "third"):
            client.create_bucket(Bucket=name)
        client.put_object(Bucket="first", Key="k", Body=b"1")
        client.put_object(Bucket="second", Key="k", Body=b"2")
        with pytest.raises(botocore.exceptions.ClientError, match="InternalError"):
            client.put_object(Bucket="third", Key="k", Body=b"3")
        server.drop_bucket_data("first")
        server.drop_bucket_data("never-written-to")
        client.put_object(Bucket="third", Key="k", Body=b"3")
        assert client.get_object(Bucket="third", Key="k")["Body"].read() == b"3"


def test_a_stopped_server_leaves_nothing_in_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server logs to its weed.log only: weed by default also left weed.* files in $TMPDIR."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    with LocalS3(workdir=tmp_path / "s3") as server:
        server.client().create_bucket(Bucket="logged")
    assert list(scratch.iterdir()) == []
    assert "master.go" in (tmp_path / "s3" / "weed.log").read_text()  # the log is kept there
