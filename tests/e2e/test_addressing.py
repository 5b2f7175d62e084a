"""--addressing-style and the profile's s3.addressing_style, seen on the wire.

Requests pass through the Tap relay, which keeps what clients send, so the
tests read the Host header and request line of each PUT, listing and COPY.
Virtual-hosted requests need ``BUCKET.HOST`` to resolve: put runs in a mount
namespace of its own (``unshare``, root) whose /etc/hosts maps a made-up
domain to loopback; nothing of the machine's is changed.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Tap

from s3pput.records import Record, from_json

DOMAIN = "s3.test"
"""A name that no resolver knows (RFC 2606); only the namespace's hosts file has it."""
WITH_HOSTS = [
    *("unshare", "--mount", "--propagation", "private"),
    *("sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"'),
]
"""Run a command (after the hosts file's path) seeing that file as /etc/hosts."""


def put_resolving(
    tap: Tap, bucket: str, lines: bytes, *flags: str, env: dict[str, str], tmp_path: Path
) -> tuple[subprocess.CompletedProcess[bytes], list[Record]]:
    """Run s3pput-put at http://s3.test:PORT, with s3.test and BUCKET.s3.test on loopback."""
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {DOMAIN} {bucket}.{DOMAIN}\n")
    command = ["s3pput-put", "--endpoint-url", f"http://{DOMAIN}:{tap.port}", "--bucket", bucket]
    run = subprocess.run(
        [*WITH_HOSTS, str(hosts), *command, *flags],
        input=lines,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert b"unshare:" not in run.stderr, run.stderr  # needs root, as the netns tests do
    return run, [from_json(line) for line in run.stdout.splitlines()]


def hosts_and_lines(tap: Tap) -> list[tuple[str, str]]:
    """(Host header, request line) of every request clients sent through the tap."""
    text = tap.sent().decode("utf-8", "replace")
    found = re.findall(
        r"((?:GET|PUT|POST|HEAD|DELETE) \S+) HTTP/1\.1\r\n((?:[^\r\n]+\r\n)*?)\r\n", text
    )
    pairs = []
    for line, headers in found:
        host = re.search(r"(?im)^host:\s*(\S+)", headers)
        pairs.append((host.group(1) if host else "", line))
    return pairs


def a_file(tmp_path: Path) -> bytes:
    """One record of one small file, keyed ``dir/a.txt``."""
    path = tmp_path / "a.txt"
    path.write_bytes(b"addressed\n")
    return json.dumps({"path": str(path), "key": "dir/a.txt"}).encode() + b"\n"


class TestAddressingStyle:
    def test_path_style_names_the_bucket_in_the_path(
        self, tap: Tap, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--addressing-style path: HOST/BUCKET/KEY for every request, and the file is stored."""
        flags = ["--addressing-style", "path"]
        run, records = put_resolving(
            tap, bucket, a_file(tmp_path), *flags, env=s3_env, tmp_path=tmp_path
        )
        assert run.returncode == 0, run.stderr
        assert records[0].status == "uploaded"
        sent = hosts_and_lines(tap)
        assert (f"{DOMAIN}:{tap.port}", f"PUT /{bucket}/dir/a.txt") in sent, sent
        assert all(host == f"{DOMAIN}:{tap.port}" for host, _ in sent), sent
        assert s3.get_object(Bucket=bucket, Key="dir/a.txt")["Body"].read() == b"addressed\n"

    def test_auto_style_is_path_on_a_store_that_is_not_aws(
        self, tap: Tap, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Without flag or profile setting, a custom endpoint gets path style, as before."""
        run, _ = put_resolving(tap, bucket, a_file(tmp_path), env=s3_env, tmp_path=tmp_path)
        assert run.returncode == 0, run.stderr
        sent = hosts_and_lines(tap)
        assert (f"{DOMAIN}:{tap.port}", f"PUT /{bucket}/dir/a.txt") in sent, sent
        assert all(host == f"{DOMAIN}:{tap.port}" for host, _ in sent), sent

    @pytest.mark.parametrize("how", ["flag", "profile"])
    def test_virtual_style_names_the_bucket_in_the_host(
        self, how: str, tap: Tap, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--addressing-style virtual, or the profile's: PUT and listing go to BUCKET.HOST/KEY."""
        env, flags = dict(s3_env), []
        if how == "flag":
            flags = ["--addressing-style", "virtual"]
        else:
            config = tmp_path / "config"
            config.write_text("[default]\ns3 =\n    addressing_style = virtual\n")
            env["AWS_CONFIG_FILE"] = str(config)
        # The store here knows no domain, so it cannot answer a virtual-hosted listing:
        # the listing (update) and the PUT (stupid, which lists nothing) are sent in two runs.
        record = a_file(tmp_path)
        put_resolving(tap, bucket, record, *flags, env=env, tmp_path=tmp_path)
        put_resolving(tap, bucket, record, *flags, "--put", "stupid", env=env, tmp_path=tmp_path)
        sent = hosts_and_lines(tap)
        virtual = f"{bucket}.{DOMAIN}:{tap.port}"
        assert (virtual, "PUT /dir/a.txt") in sent, sent
        assert any(host == virtual and line.startswith("GET /?") for host, line in sent), sent
        assert not any(f"/{bucket}" in line for _, line in sent), sent

    def test_the_flag_wins_over_the_profile(
        self, tap: Tap, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--addressing-style path overrides a profile that says virtual."""
        config = tmp_path / "config"
        config.write_text("[default]\ns3 =\n    addressing_style = virtual\n")
        env = {**s3_env, "AWS_CONFIG_FILE": str(config)}
        flags = ["--addressing-style", "path"]
        run, _ = put_resolving(tap, bucket, a_file(tmp_path), *flags, env=env, tmp_path=tmp_path)
        assert run.returncode == 0, run.stderr
        assert (f"{DOMAIN}:{tap.port}", f"PUT /{bucket}/dir/a.txt") in hosts_and_lines(tap)

    def test_virtual_style_reaches_boto3_requests(
        self, tap: Tap, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """boto3's requests (a copy begins with a HEAD of its source) are addressed the same way."""
        s3.put_object(Bucket=bucket, Key="original.txt", Body=b"addressed\n")
        line = json.dumps({"key": "dir/a.txt", "source_key": "original.txt"}).encode() + b"\n"
        flags = ["--put", "copy", "--source-bucket", bucket, "--addressing-style", "virtual"]
        put_resolving(tap, bucket, line, *flags, env=s3_env, tmp_path=tmp_path)
        sent = hosts_and_lines(tap)
        assert (f"{bucket}.{DOMAIN}:{tap.port}", "HEAD /original.txt") in sent, sent
        assert not any(f"/{bucket}" in line for _, line in sent), sent
