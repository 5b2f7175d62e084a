"""The installed ``s3pput-put`` under faults: TLS, signals, a closed reader, bad input, denials."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3

PUT = str(Path(sys.executable).parent / "s3pput-put")


def make_files(root: Path, count: int) -> list[Path]:
    """Create ``count`` small files with distinct contents under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    paths = [root / f"f{n:04d}.txt" for n in range(count)]
    for n, path in enumerate(paths):
        path.write_bytes(f"file {n}\n".encode())
    return paths


def ndjson(paths: list[Path]) -> bytes:
    """Records naming ``paths``, keyed by their file names."""
    return b"".join(json.dumps({"path": str(p), "key": p.name}).encode() + b"\n" for p in paths)


def nonblank_lines(data: bytes) -> int:
    """Count the lines put must answer, skipping blank ones as ``s3pput.ndjson`` does."""
    return sum(1 for line in data.split(b"\n") if line.rstrip(b"\r\n").strip())


def parse(stdout: bytes) -> list[Record]:
    """Parse every line put wrote, each of which must be whole."""
    assert not stdout or stdout.endswith(b"\n"), "last output line is cut"
    return [from_json(line) for line in stdout.split(b"\n")[:-1]]


def results(stdin: bytes, stdout: bytes) -> list[Record]:
    """Parse put's output and check the promise: one record per non-blank input line."""
    records = parse(stdout)
    assert len(records) == nonblank_lines(stdin), stdout[:2000]
    return records


def put(
    *args: str, env: dict[str, str], stdin: bytes, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """Run ``s3pput-put`` to completion with ``stdin`` piped in."""
    return subprocess.run(
        [PUT, *args], input=stdin, env=env, capture_output=True, timeout=timeout, check=False
    )


def as_reader(env: dict[str, str], server: LocalS3) -> dict[str, str]:
    """The same environment with the read-only identity's keys."""
    keys = {"AWS_ACCESS_KEY_ID": server.reader_access_key}
    return {**env, **keys, "AWS_SECRET_ACCESS_KEY": server.reader_secret_key}


def assert_uploaded(
    run: subprocess.CompletedProcess[bytes], paths: list[Path], s3: Any, bucket: str
) -> None:
    """Check a run uploaded every path, keyed by name, with the file's bytes."""
    assert run.returncode == 0, run.stderr
    stdin = ndjson(paths)
    assert all(r.status == "uploaded" for r in results(stdin, run.stdout)), run.stdout
    for path in paths:
        assert s3.get_object(Bucket=bucket, Key=path.name)["Body"].read() == path.read_bytes()


class TLSEndpoint(NamedTuple):
    """Where the TLS proxy listens, and the certificate that verifies it."""

    url: str
    ca_bundle: Path


class TLSProxy:
    """Terminate TLS on a loopback port and forward the raw bytes to a plain TCP port."""

    def __init__(self, cert: Path, key: Path, target_port: int) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.target_port = target_port
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="tls-proxy", daemon=True)

    def start(self) -> None:
        """Start serving in a background thread and wait until the port is known."""
        self._thread.start()
        assert self._ready.wait(10), "TLS proxy did not start"

    def stop(self) -> None:
        """Stop the loop, close every connection and join the thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        loop = self._loop
        loop.set_exception_handler(lambda _loop, _context: None)  # refused handshakes are expected
        server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=self.context)
        )
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(_close(server))
            loop.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(_pump(client_r, up_w), _pump(up_r, client_w), return_exceptions=True)


async def _close(server: asyncio.Server) -> None:
    """Stop listening and cancel every connection still being forwarded."""
    server.close()
    tasks = asyncio.all_tasks() - {asyncio.current_task()}
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await server.wait_closed()


async def _pump(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
    """Copy bytes until ``source`` ends, then close ``target``."""
    try:
        while data := await source.read(65536):
            target.write(data)
            await target.drain()
    finally:
        target.close()


class BlackHole:
    """A loopback TCP port that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="black-hole", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections.append(conn)

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` connections were accepted; tell whether they were."""
        deadline = time.monotonic() + timeout
        while len(self.connections) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.connections) >= count

    def close(self) -> None:
        """Stop accepting, join the thread and close every socket."""
        self._stop.set()
        self._thread.join(5)
        self.listener.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture(name="cert", scope="session")
def fixture_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, made with openssl."""
    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture(name="tls")
def fixture_tls(cert: tuple[Path, Path], s3_server: LocalS3) -> Iterator[TLSEndpoint]:
    """An https endpoint with a self-signed certificate in front of the S3 server."""
    proxy = TLSProxy(*cert, target_port=s3_server.s3_port)
    proxy.start()
    try:
        yield TLSEndpoint(f"https://127.0.0.1:{proxy.port}", cert[0])
    finally:
        proxy.stop()


@pytest.fixture(name="black_hole")
def fixture_black_hole() -> Iterator[BlackHole]:
    """An endpoint that takes connections and never answers, closed after the test."""
    hole = BlackHole()
    try:
        yield hole
    finally:
        hole.close()


class TestTLS:
    def test_self_signed_endpoint_is_refused_by_default(
        self, tls: TLSEndpoint, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Without a flag, an unverifiable certificate fails every record."""
        stdin = ndjson(make_files(tmp_path, 2))
        run = put("--bucket", bucket, "--endpoint-url", tls.url, env=s3_env, stdin=stdin)
        assert run.returncode == 1, run.stderr
        for record in results(stdin, run.stdout):
            assert record.status == "failed"
            assert "certificate verify failed" in (record.error or "").lower(), record.error

    def test_insecure_uploads_to_a_self_signed_endpoint(
        self, tls: TLSEndpoint, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--insecure skips certificate verification, so the upload succeeds."""
        paths = make_files(tmp_path, 2)
        args = ["--endpoint-url", tls.url, "--insecure"]
        run = put("--bucket", bucket, *args, env=s3_env, stdin=ndjson(paths))
        assert_uploaded(run, paths, s3, bucket)

    def test_ca_bundle_trusts_a_self_signed_endpoint(
        self, tls: TLSEndpoint, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """--ca-bundle verifies against the given certificate, so the upload succeeds."""
        paths = make_files(tmp_path, 2)
        args = ["--endpoint-url", tls.url, "--ca-bundle", str(tls.ca_bundle)]
        run = put("--bucket", bucket, *args, env=s3_env, stdin=ndjson(paths))
        assert_uploaded(run, paths, s3, bucket)


class TestInterrupt:
    @pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
    def test_signal_reports_every_record_and_exits_130(
        self, signum: int, black_hole: BlackHole, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Ctrl-C or SIGTERM mid-upload still answers every line, in-flight ones "interrupted"."""
        stdin = ndjson(make_files(tmp_path, 10))
        args = ["--bucket", "b", "--endpoint-url", black_hole.url, "-j", "4", "--put", "stupid"]
        read_end, write_end = os.pipe()
        proc = subprocess.Popen(
            [PUT, *args], stdin=read_end, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=s3_env
        )
        os.close(read_end)
        try:
            os.write(write_end, stdin)
            os.close(write_end)
            assert black_hole.wait_for(4, timeout=30), "put never connected"
            started = time.monotonic()
            proc.send_signal(signum)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert time.monotonic() - started < 10
        assert proc.returncode == 130, stderr
        assert b"Traceback" not in stderr, stderr
        records = parse(stdout)
        assert all(r.status == "failed" for r in records), stdout
        assert sum(r.error == "interrupted" for r in records) >= 4, stdout
        results(stdin, stdout)  # the lines put never started are answered too


class TestClosedReader:
    def test_reader_going_away_exits_1_and_logs_unreported(
        self, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """``put | head -1`` ends put with exit 1 and a log line about unreported results."""
        records_file = tmp_path / "records.ndjson"
        records_file.write_bytes(ndjson(make_files(tmp_path / "src", 300)))
        args = ["--bucket", bucket, "--put", "stupid", "--log-format", "json"]
        read_end, write_end = os.pipe()
        with records_file.open("rb") as source:
            put_proc = subprocess.Popen(
                [PUT, *args], stdin=source, stdout=write_end, stderr=subprocess.PIPE, env=s3_env
            )
        head = subprocess.Popen(["head", "-1"], stdin=read_end, stdout=subprocess.PIPE)
        os.close(read_end)
        os.close(write_end)
        try:
            first, _ = head.communicate(timeout=60)
            _, stderr = put_proc.communicate(timeout=60)
        finally:
            for proc in (put_proc, head):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        assert from_json(first).path is not None
        assert put_proc.returncode == 1, stderr
        assert b"Traceback" not in stderr, stderr
        assert b'"unreported":' in stderr, stderr


class TestBadInput:
    def test_every_bad_line_becomes_one_failed_record(
        self, bucket: str, s3: Any, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Each malformed line is answered by a failed record with its line number."""
        good = make_files(tmp_path, 1)[0]
        bad = {
            1: b'{"key": "no-path"}',
            2: b"[1,2]",
            4: b"\xff\xfe\x80garbage\x01\x02",
            5: b'{"path": "a\x00b"}',
            6: b'{"path": "a\\u0000b", "key": "nul"}',
            7: b"x" * (10 << 20),
            8: b'{"path": 5}',
            12: b'{"path": "x"',
        }
        lines = {**bad, 3: b"", 9: b"   ", 10: ndjson([good]).rstrip(b"\n"), 11: b"\t\r"}
        stdin = b"\n".join(lines[n] for n in sorted(lines))
        run = put("--bucket", bucket, env=s3_env, stdin=stdin)
        assert run.returncode == 1, run.stderr[-4000:]
        assert b"Traceback" not in run.stderr, run.stderr[-4000:]
        records = results(stdin, run.stdout)
        assert len(run.stdout) < 1 << 20, "a huge line was echoed whole"
        failed = [r for r in records if r.status == "failed"]
        assert len(failed) == len(bad), [(r.line, r.error) for r in records]
        assert {r.line for r in failed} == set(bad), [(r.line, r.error) for r in failed]
        for record in failed:
            assert record.error
            assert "internal error" not in record.error, record.error
        assert [r.key for r in records if r.status == "uploaded"] == [good.name]
        assert s3.get_object(Bucket=bucket, Key=good.name)["Body"].read() == good.read_bytes()


class TestFailedRecords:
    def test_read_only_identity_fails_with_access_denied(
        self, s3_server: LocalS3, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A PUT the server denies is a failed record saying AccessDenied."""
        stdin = ndjson(make_files(tmp_path, 2))
        run = put("--bucket", bucket, env=as_reader(s3_env, s3_server), stdin=stdin)
        assert run.returncode == 1, run.stderr
        for record in results(stdin, run.stdout):
            assert record.status == "failed"
            assert "AccessDenied" in (record.error or ""), record.error

    def test_missing_bucket_fails_with_no_such_bucket(
        self, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A bucket that does not exist stops put before any record: exit 2, NoSuchBucket."""
        stdin = ndjson(make_files(tmp_path, 2))
        run = put("--bucket", "does-not-exist-xyz", env=s3_env, stdin=stdin)
        assert run.returncode == 2, run.stderr
        [stop] = [from_json(line) for line in run.stdout.splitlines()]
        assert (stop.status, stop.extra) == ("failed", {"fatal": True})
        assert "NoSuchBucket" in (stop.error or ""), stop.error

    def test_refused_endpoint_fails_within_a_minute(
        self, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """An endpoint that refuses connections fails each record soon, not after a long hang."""
        stdin = ndjson(make_files(tmp_path, 3))
        started = time.monotonic()
        run = put("--bucket", "b", "--endpoint-url", "http://127.0.0.1:1", env=s3_env, stdin=stdin)
        assert time.monotonic() - started < 60
        assert run.returncode == 1, run.stderr
        for record in results(stdin, run.stdout):
            assert record.status == "failed"
            assert "connect" in (record.error or "").lower(), record.error

    def test_vanished_file_fails_with_no_such_file(
        self, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A file deleted between walk and put is a failed record, not a crash."""
        paths = make_files(tmp_path, 2)
        stdin = ndjson(paths)
        paths[0].unlink()
        run = put("--bucket", bucket, env=s3_env, stdin=stdin)
        assert run.returncode == 1, run.stderr
        by_key = {r.key: r for r in results(stdin, run.stdout)}
        assert by_key[paths[1].name].status == "uploaded"
        vanished = by_key[paths[0].name]
        assert vanished.status == "failed"
        assert "No such file" in (vanished.error or ""), vanished.error

    @pytest.mark.timeout(60)
    def test_fifo_fails_without_hanging(
        self, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A record naming a fifo fails as "not a regular file" instead of blocking on it."""
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        stdin = ndjson([fifo])
        run = put("--bucket", bucket, env=s3_env, stdin=stdin, timeout=30)
        assert run.returncode == 1, run.stderr
        (record,) = results(stdin, run.stdout)
        assert record.status == "failed"
        assert "not a regular file" in (record.error or ""), record.error


class TestUsageErrors:
    @pytest.mark.parametrize(
        "flags",
        [
            ["--header", "X: a\r\nY: b"],
            ["--header", "nocolon"],
            ["--metadata", "k=a\nb"],
            ["--part-size", "1M"],
        ],
        ids=["header-crlf", "header-no-colon", "metadata-lf", "part-size-1M"],
    )
    def test_bad_flag_exits_2_before_sending_anything(
        self, flags: list[str], black_hole: BlackHole, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """A header that could smuggle a line, or a bad size, stops put before any request."""
        stdin = ndjson(make_files(tmp_path, 2))
        args = ["--bucket", "b", "--endpoint-url", black_hole.url, "--put", "stupid", *flags]
        run = put(*args, env=s3_env, stdin=stdin, timeout=30)
        assert run.returncode == 2, run.stderr
        [stop] = [from_json(line) for line in run.stdout.splitlines()]  # for stat, down the pipe
        assert (stop.status, stop.stage, stop.extra) == ("failed", "put", {"fatal": True})
        time.sleep(0.3)  # let the black hole accept anything already queued
        assert black_hole.connections == []


class TestSecrets:
    @pytest.mark.parametrize("identity", ["admin", "reader"])
    def test_secret_key_never_appears_in_output_or_logs(
        self, identity: str, s3_server: LocalS3, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Even at debug level, neither stdout nor stderr contains the secret key."""
        env = as_reader(s3_env, s3_server) if identity == "reader" else s3_env
        secret = env["AWS_SECRET_ACCESS_KEY"]
        paths = make_files(tmp_path, 3)
        stdin = ndjson([*paths, tmp_path / "missing.txt"])  # one fails whoever runs it
        run = put("--bucket", bucket, "-vv", "--log-format", "json", env=env, stdin=stdin)
        assert run.returncode == 1, run.stderr
        results(stdin, run.stdout)
        assert [json.loads(line) for line in run.stderr.splitlines()], "no logs at -vv"
        assert secret.encode() not in run.stdout
        assert secret.encode() not in run.stderr

    @pytest.mark.parametrize("where", ["environment", "profile"])
    def test_verbose_says_where_it_connects_and_whose_keys_never_the_keys(
        self, where: str, s3_server: LocalS3, bucket: str, s3_env: dict[str, str], tmp_path: Path
    ) -> None:
        """Issue #16 item 11: ``-v`` names endpoint, region, profile and the keys' source."""
        env = dict(s3_env)
        secret, access = env["AWS_SECRET_ACCESS_KEY"], env["AWS_ACCESS_KEY_ID"]
        expected = {"profile": "default", "credentials": "environment"}
        if where == "profile":
            keys = tmp_path / "credentials"
            keys.write_text(
                f"[uploads]\naws_access_key_id = {env.pop('AWS_ACCESS_KEY_ID')}\n"
                f"aws_secret_access_key = {env.pop('AWS_SECRET_ACCESS_KEY')}\n"
            )
            env |= {"AWS_SHARED_CREDENTIALS_FILE": str(keys), "AWS_PROFILE": "uploads"}
            expected = {"profile": "uploads", "credentials": "shared credentials file [uploads]"}
        stdin = ndjson(make_files(tmp_path, 1))
        run = put("--bucket", bucket, "-v", "--log-format", "json", env=env, stdin=stdin)
        assert run.returncode == 0, run.stderr
        [connecting] = [
            event
            for event in map(json.loads, run.stderr.splitlines())
            if event["event"] == "connecting"
        ]
        region = env["AWS_DEFAULT_REGION"]
        assert connecting["endpoint"] == s3_server.endpoint_url
        assert connecting["region"] == region
        assert {name: connecting[name] for name in expected} == expected
        assert secret.encode() not in run.stderr
        assert access.encode() not in run.stderr
