"""TLS settings every AWS tool honours: AWS_CA_BUNDLE, the profile's ca_bundle, --insecure.

Put talks HTTPS to a TLS relay in front of the real server; the relay's
certificate comes from a throwaway CA that only the settings under test trust.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tlsrelay import Authority, TlsRelay, make_authority

from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3


@pytest.fixture(name="authority", scope="module")
def fixture_authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """A CA made for this module, and a certificate for 127.0.0.1 it signed."""
    return make_authority(tmp_path_factory.mktemp("ca"))


@dataclass(frozen=True)
class Endpoint:
    """An HTTPS endpoint in front of the S3 server, and what a test needs around it."""

    relay: TlsRelay
    authority: Authority
    """The CA that signed the endpoint's certificate."""
    env: dict[str, str]
    bucket: str
    s3: Any
    """An admin client straight to the server, for checking what landed."""

    def put(
        self, lines: bytes, *flags: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.CompletedProcess[bytes], list[Record]]:
        """Run s3pput-put against the HTTPS endpoint; its results."""
        run = subprocess.run(
            ["s3pput-put", "--endpoint-url", self.relay.url, "--bucket", self.bucket, *flags],
            input=lines,
            env={**self.env, **(env or {})},
            capture_output=True,
            timeout=120,
            check=False,
        )
        return run, [from_json(line) for line in run.stdout.splitlines()]

    def assert_stored(self) -> None:
        """The file reached the server through the relay."""
        body = self.s3.get_object(Bucket=self.bucket, Key="tls.txt")["Body"].read()
        assert body == b"over TLS\n"


@pytest.fixture(name="endpoint")
def fixture_endpoint(
    s3_server: LocalS3, authority: Authority, s3_env: dict[str, str], bucket: str, s3: Any
) -> Iterator[Endpoint]:
    """An HTTPS endpoint on loopback in front of the S3 server, and a fresh bucket."""
    with TlsRelay(s3_server.s3_port, authority) as relay:
        yield Endpoint(relay, authority, s3_env, bucket, s3)


def a_file(tmp_path: Path) -> bytes:
    """One record of one small file, keyed ``tls.txt``."""
    path = tmp_path / "tls.txt"
    path.write_bytes(b"over TLS\n")
    return json.dumps({"path": str(path), "key": "tls.txt"}).encode() + b"\n"


class TestCaBundle:
    def test_an_untrusted_certificate_fails_every_record(
        self, endpoint: Endpoint, tmp_path: Path
    ) -> None:
        """Without the CA trusted anywhere, the record fails with the TLS error, nothing hangs."""
        run, records = endpoint.put(a_file(tmp_path))
        assert run.returncode == 1, run.stderr
        assert records[0].status == "failed"
        assert "certificate verify failed" in (records[0].error or ""), records[0].error

    def test_aws_ca_bundle_is_trusted(self, endpoint: Endpoint, tmp_path: Path) -> None:
        """AWS_CA_BUNDLE names the CA, as for aws-cli: the upload goes through."""
        env = {"AWS_CA_BUNDLE": str(endpoint.authority.ca)}
        run, records = endpoint.put(a_file(tmp_path), env=env)
        assert run.returncode == 0, run.stderr
        assert records[0].status == "uploaded", records[0].error
        endpoint.assert_stored()

    def test_the_profiles_ca_bundle_is_trusted(self, endpoint: Endpoint, tmp_path: Path) -> None:
        """``ca_bundle`` in the profile of the config file is honoured too."""
        config = tmp_path / "config"
        config.write_text(f"[profile tls]\nca_bundle = {endpoint.authority.ca}\n")
        env = {"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "tls"}
        run, records = endpoint.put(a_file(tmp_path), env=env)
        assert run.returncode == 0, run.stderr
        assert records[0].status == "uploaded", records[0].error
        endpoint.assert_stored()

    def test_ca_bundle_flag_wins_over_the_environment(
        self, endpoint: Endpoint, tmp_path: Path
    ) -> None:
        """--ca-bundle is used even when AWS_CA_BUNDLE names a CA that does not fit."""
        other = make_authority(tmp_path / "other-ca")
        flags = ["--ca-bundle", str(endpoint.authority.ca)]
        run, records = endpoint.put(a_file(tmp_path), *flags, env={"AWS_CA_BUNDLE": str(other.ca)})
        assert run.returncode == 0, run.stderr
        assert records[0].status == "uploaded", records[0].error
        endpoint.assert_stored()

    def test_insecure_wins_over_every_bundle(self, endpoint: Endpoint, tmp_path: Path) -> None:
        """--insecure uploads without verifying, whatever CA bundle is configured."""
        other = make_authority(tmp_path / "other-ca")
        env = {"AWS_CA_BUNDLE": str(other.ca)}
        run, records = endpoint.put(a_file(tmp_path), "--insecure", env=env)
        assert run.returncode == 0, run.stderr
        assert records[0].status == "uploaded", records[0].error
        endpoint.assert_stored()

    def test_server_side_copy_trusts_aws_ca_bundle(self, endpoint: Endpoint) -> None:
        """The boto3 client (COPY, HEAD) trusts AWS_CA_BUNDLE as well, not only the native one."""
        endpoint.s3.put_object(Bucket=endpoint.bucket, Key="original.txt", Body=b"over TLS\n")
        line = json.dumps({"key": "tls.txt", "source_key": "original.txt"}).encode() + b"\n"
        flags = ["--put", "copy", "--source-bucket", endpoint.bucket]
        env = {"AWS_CA_BUNDLE": str(endpoint.authority.ca)}
        run, records = endpoint.put(line, *flags, env=env)
        assert run.returncode == 0, run.stderr
        assert records[0].status == "uploaded", records[0].error
        endpoint.assert_stored()


def test_https_to_a_plain_http_port_says_so_at_once(
    s3_env: dict[str, str], s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """Issue #16 item 11: not "socket is closed" after 15 s, but TLS failed and the http URL."""
    plain = s3_server.endpoint_url
    assert plain.startswith("http://")
    https = "https://" + plain.removeprefix("http://")
    lines = a_file(tmp_path)
    run = subprocess.run(
        ["s3pput-put", "--endpoint-url", https, "--bucket", bucket],
        input=lines,
        env=s3_env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    stderr = run.stderr.decode()
    assert run.returncode == 2, stderr
    # The last word is the diagnosis (a loaded machine may first warn of the held requests).
    last = stderr.splitlines()[-1]
    assert f"TLS failed: the port answers plain HTTP, not TLS; use {plain} instead" in last
    [stop] = [json.loads(line) for line in run.stdout.splitlines()]
    assert stop["fatal"] is True
