"""s3pput-local-s3, the throwaway server: a bad request is a one-line error; a crash restarts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import botocore.config
import pytest

from s3pput.localserver import LocalS3

LOCAL_S3 = str(Path(sys.executable).parent / "s3pput-local-s3")


def test_an_invalid_bucket_name_is_a_usage_error_not_a_traceback() -> None:
    """The server starts, refuses the name, and the command stops it and exits 2."""
    done = subprocess.run(
        [LOCAL_S3, "--bucket", "b"], capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 2
    assert b"cannot create bucket 'b': InvalidBucketName" in done.stderr
    assert b"Traceback" not in done.stderr


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
