"""Shared fixtures: one real SeaweedFS S3 server per test session, a fresh bucket per test."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from s3pput.localserver import LocalS3

BIN = Path(sys.executable).parent


@pytest.fixture(name="s3_server", scope="session")
def fixture_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3]:
    """A real S3 server on loopback, started once and stopped by PID at the end."""
    server = LocalS3(workdir=tmp_path_factory.mktemp("seaweedfs"))
    with server:
        yield server


@pytest.fixture(name="s3_env")
def fixture_s3_env(s3_server: LocalS3, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point boto3 (in this process and in subprocesses) at the test server only."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(name="s3")
def fixture_s3(s3_server: LocalS3) -> Any:
    """An admin boto3 client for checking what landed in the bucket."""
    return boto3.client(
        "s3",
        endpoint_url=s3_server.endpoint_url,
        aws_access_key_id=s3_server.access_key,
        aws_secret_access_key=s3_server.secret_key,
        region_name="us-east-1",
    )


@pytest.fixture(name="bucket")
def fixture_bucket(s3: Any, s3_env: dict[str, str]) -> str:  # noqa: ARG001  # s3_env sets the environment
    """A new, empty bucket for one test."""
    name = f"test-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=name)
    return name
