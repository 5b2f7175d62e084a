"""Nothing lost under faults, on the real server: the promise of issue #5.

Each test injects one fault for real (a server killed and restarted, a proxy
that answers 503/500, resets, stalls or cuts answers, signals, a killed put)
and checks the same four things: every input record has exactly one output
record, every ``uploaded`` record is in the bucket with the file's bytes,
the exit code tells the truth, and no traceback reaches stderr. Each test
adds a row to a table (written where S3PPUT_FAULT_REPORT says, for the
closing note of the issue).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import faultproxy
import pytest
from faultproxy import PASS, RESET, RESET_AFTER_BODY, TRUNCATE, FaultProxy, Switch

from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3

BIN = Path(sys.executable).parent
PUT = str(BIN / "s3pput-put")
MiB = 1 << 20


class Row(NamedTuple):
    """One line of the fault table."""

    fault: str
    injected: str
    records_in: int
    records_out: int
    verified: int
    failed: int
    retries: int
    exit_code: int


_ROWS: list[Row] = []


@pytest.fixture(scope="session", autouse=True)
def _fault_report() -> Iterator[None]:
    """Write the table of every fault run, if S3PPUT_FAULT_REPORT names a file."""
    yield
    target = os.environ.get("S3PPUT_FAULT_REPORT")
    if not target or not _ROWS:
        return
    head = "| fault | how injected | in | out | uploaded and verified | failed | retries | exit |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    lines += [
        f"| {r.fault} | {r.injected} | {r.records_in} | {r.records_out} | {r.verified} "
        f"| {r.failed} | {r.retries} | {r.exit_code} |"
        for r in _ROWS
    ]
    Path(target).write_text("\n".join(lines) + "\n")


def make_files(root: Path, count: int, size: int = 64) -> dict[str, bytes]:
    """``count`` files of distinct bytes under ``root``; their contents by key (name)."""
    root.mkdir(parents=True, exist_ok=True)
    files = {}
    for n in range(count):
        data = (f"{n:08d}".encode() * (size // 8 + 1))[:size]
        (root / f"f{n:05d}").write_bytes(data)
        files[f"f{n:05d}"] = data
    return files


def ndjson(root: Path, keys: list[str]) -> bytes:
    """Records for the files ``keys`` under ``root``, keyed by name."""
    return b"".join(json.dumps({"path": str(root / k), "key": k}).encode() + b"\n" for k in keys)


def parse(stdout: bytes) -> list[Record]:
    """Every record put wrote; each line must be whole."""
    assert not stdout or stdout.endswith(b"\n"), "last output line is cut"
    return [from_json(line) for line in stdout.splitlines()]


def verify(  # noqa: PLR0913  # the run, what went in, and the row it adds
    lab: Lab,
    run: subprocess.CompletedProcess[bytes],
    stdin: bytes,
    files: dict[str, bytes],
    *,
    row: tuple[str, str],
    exit_code: int | None = None,
) -> list[Record]:
    """Check the promise for one run and add its row to the table; its records."""
    records = parse(run.stdout)
    in_count = stdin.count(b"\n")
    assert len(records) == in_count, f"{len(records)} records out for {in_count} in"
    assert sorted(str(r.key) for r in records) == sorted(
        json.loads(line)["key"] for line in stdin.splitlines()
    )
    assert b"Traceback" not in run.stderr, run.stderr[-3000:]
    verified = 0
    for record in records:
        if record.status == "uploaded":
            stored = lab.s3.get_object(Bucket=lab.bucket, Key=record.key)["Body"].read()
            assert (
                hashlib.sha256(stored).digest() == hashlib.sha256(files[str(record.key)]).digest()
            )
            verified += 1
    failed = sum(r.status == "failed" for r in records)
    expected = (1 if failed else 0) if exit_code is None else exit_code
    assert run.returncode == expected, run.stderr[-3000:]
    retries = sum(max(0, (r.attempts or 1) - 1) for r in records)
    _ROWS.append(Row(*row, in_count, len(records), verified, failed, retries, run.returncode))
    return records


def put(
    endpoint: str, bucket: str, stdin: bytes, env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[bytes]:
    """Run s3pput-put to the end against ``endpoint``."""
    return subprocess.run(
        [PUT, "--bucket", bucket, "--endpoint-url", endpoint, "--no-cache", *args],
        input=stdin,
        env=env,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


class Lab(NamedTuple):
    """What a fault test works with: the server, a bucket, a proxy in front, a directory."""

    server: LocalS3
    env: dict[str, str]
    s3: Any
    bucket: str
    proxy: FaultProxy
    root: Path


@pytest.fixture(name="lab")
def fixture_lab(
    s3_server: LocalS3, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> Iterator[Lab]:
    """A fault proxy in front of the test server (it passes everything until told otherwise)."""
    with FaultProxy(s3_server.s3_port) as proxy:
        yield Lab(s3_server, s3_env, s3, bucket, proxy, tmp_path)
        assert proxy.errors == []


def start_put(
    endpoint: str, bucket: str, stdin: bytes, env: dict[str, str], *args: str
) -> tuple[subprocess.Popen[bytes], _Collector]:
    """Start s3pput-put in the background on ``stdin``; the process and what it writes."""
    process = subprocess.Popen(
        [PUT, "--bucket", bucket, "--endpoint-url", endpoint, "--no-cache", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    out = _Collector(process)
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    return process, out


def struck(
    fault: faultproxy.Fault, share: float, *, times: int = 2, methods: set[str] | None = None
) -> faultproxy.Policy:
    """A ``share`` of the targets (by a hash) get ``fault`` on their first ``times`` requests.

    Unlike a coin flip per attempt, no request can be unlucky ``--retries`` times in
    a row, so "every record uploaded" is certain and the faults injected are exact.
    """
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def decide(request: faultproxy.RequestInfo) -> faultproxy.Fault:
        if methods is not None and request.method not in methods:
            return PASS
        digest = hashlib.blake2b(request.target.encode(), digest_size=8).digest()
        if int.from_bytes(digest, "big") / 2**64 >= share:
            return PASS
        with lock:
            seen[request.target] += 1
            return fault if seen[request.target] <= times else PASS

    return decide


def no_uploads_left(s3: Any, bucket: str) -> bool:
    """Whether the bucket holds no unfinished multipart upload (no orphan parts)."""
    return not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


class TestAnswers:
    """The server answers, but not always with success."""

    @pytest.mark.parametrize(
        ("fault", "status"), [("503 SlowDown", 503), ("500 InternalError", 500), ("429", 429)]
    )
    def test_a_third_of_puts_refused_then_all_uploaded(
        self, fault: str, status: int, lab: Lab
    ) -> None:
        """Retried with backoff until each one is stored; the records count the attempts."""
        files = make_files(lab.root / "src", 200)
        lab.proxy.policy = struck(faultproxy.answer(status), 0.3, methods={"PUT"})
        stdin = ndjson(lab.root / "src", list(files))
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "-j", "16")
        records = verify(
            lab, run, stdin, files, row=(fault, f"proxy answers {status} twice to 30% of PUTs")
        )
        assert all(r.status == "uploaded" for r in records)
        refused = lab.proxy.counts["ANSWER"]
        assert refused > 20
        assert sum((r.attempts or 1) - 1 for r in records) == refused

    def test_sustained_slowdown_slows_down_then_gives_up(self, lab: Lab) -> None:
        """Every PUT answered 503: 1 + --retries attempts each, fewer at once, then failed."""
        files = make_files(lab.root / "src", 40)
        lab.proxy.policy = faultproxy.ratio(faultproxy.answer(503), 1.0, methods={"PUT"})
        stdin = ndjson(lab.root / "src", list(files))
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "-j", "16", "--retries", "2", "-v")
        records = verify(
            lab,
            run,
            stdin,
            files,
            row=("503 on every request", "proxy answers 503 SlowDown to all"),
        )
        assert all(r.status == "failed" and r.attempts == 3 for r in records)
        assert all(
            "SlowDown" in str(r.error) and "after 3 attempts" in str(r.error) for r in records
        )
        puts = sum(1 for seen in lab.proxy.requests if seen.method == "PUT")
        assert puts == 3 * len(files)
        assert b"slowing down" in run.stderr

    def test_refusals_are_not_retried(self, lab: Lab) -> None:
        """403 is final: one attempt per record, failed with S3's code."""
        files = make_files(lab.root / "src", 30)
        lab.proxy.policy = faultproxy.always(
            faultproxy.answer(403, "AccessDenied", "Access Denied")
        )
        stdin = ndjson(lab.root / "src", list(files))
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "--put", "stupid")
        records = verify(
            lab, run, stdin, files, row=("403 AccessDenied", "proxy answers 403 to all")
        )
        assert all(r.status == "failed" and r.attempts == 1 for r in records)
        assert all("AccessDenied" in str(r.error) for r in records)
        puts = [seen for seen in lab.proxy.requests if seen.method == "PUT"]
        assert len(puts) == len(files)  # and the one listing of the bucket check before them


class TestNetwork:
    """Connections reset, stalled, cut short, slowed."""

    @pytest.mark.parametrize(
        ("fault", "policy"),
        [
            ("connection reset", struck(RESET, 0.2)),
            ("reset after the body", struck(RESET_AFTER_BODY, 0.2, methods={"PUT"})),
            ("answer cut short", struck(TRUNCATE, 0.2, methods={"PUT"})),
        ],
    )
    def test_a_fifth_of_requests_broken_then_all_uploaded(
        self, fault: str, policy: faultproxy.Policy, lab: Lab
    ) -> None:
        """Resets and cut answers, with 5 ms of latency each way: retried, all stored."""
        files = make_files(lab.root / "src", 150)
        with FaultProxy(lab.server.s3_port, policy, latency=0.005) as proxy:
            stdin = ndjson(lab.root / "src", list(files))
            run = put(proxy.url, lab.bucket, stdin, lab.env, "-j", "16")
            broken = sum(n for name, n in proxy.counts.items() if name != "PASS")
        records = verify(
            lab, run, stdin, files, row=(fault, "proxy breaks 20% of requests twice, 5 ms latency")
        )
        assert all(r.status == "uploaded" for r in records)
        assert broken > 10
        assert sum((r.attempts or 1) - 1 for r in records) >= broken // 2

    def test_stalled_requests_time_out_and_are_retried(self, lab: Lab) -> None:
        """Three PUTs get no answer: cancelled after --timeout, tried again, stored."""
        files = make_files(lab.root / "src", 20)
        lab.proxy.policy = faultproxy.first(3, faultproxy.stall(60), methods={"PUT"})
        stdin = ndjson(lab.root / "src", list(files))
        started = time.monotonic()
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "--timeout", "2")
        records = verify(
            lab,
            run,
            stdin,
            files,
            row=("stalled answers", "proxy holds 3 PUTs for 60 s; --timeout 2"),
        )
        assert time.monotonic() - started < 30
        assert all(r.status == "uploaded" for r in records)
        assert sum((r.attempts or 1) - 1 for r in records) == 3


class TestEndpointDown:
    """The server goes away, for a while or for good."""

    def test_server_killed_and_restarted_mid_run_loses_nothing(self, lab: Lab) -> None:
        """SIGKILL the server with uploads in flight, start it again 3 s later: all stored."""
        files = make_files(lab.root / "src", 400, size=2048)
        with LocalS3(workdir=lab.root / "weed") as server:
            s3 = server.client()
            s3.create_bucket(Bucket="killed")
            env = {**lab.env, **server.env()}
            stdin = ndjson(lab.root / "src", list(files))
            # 20 ms each way, so the run is still going when the server dies.
            with FaultProxy(server.s3_port, latency=0.02) as proxy:
                process, out = start_put(proxy.url, "killed", stdin, env, "-j", "4")
                assert out.wait_for_lines(40, timeout=60)
                server.kill()
                time.sleep(3)
                server.restart()
                process.wait(timeout=180)
            run = subprocess.CompletedProcess(
                process.args, process.returncode, out.stdout(), out.stderr()
            )
            records = verify(
                Lab(server, env, s3, "killed", proxy, lab.root),
                run,
                stdin,
                files,
                row=("server killed", "SIGKILL SeaweedFS mid-run, restart after 3 s"),
            )
        assert all(r.status == "uploaded" for r in records)
        assert sum((r.attempts or 1) - 1 for r in records) > 0

    def test_endpoint_back_within_the_window_loses_nothing(self, lab: Lab) -> None:
        """Every connection reset for 8 s (probes too): requests wait, then all are stored."""
        files = make_files(lab.root / "src", 300)
        switch = Switch()

        def policy(request: faultproxy.RequestInfo) -> faultproxy.Fault:
            if request.seq == 50:  # mid-run, after the endpoint has answered
                switch.set(RESET, 8.0)
            return switch(request)

        lab.proxy.policy = policy
        stdin = ndjson(lab.root / "src", list(files))
        started = time.monotonic()
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "-j", "8")
        assert time.monotonic() - started > 8
        assert lab.proxy.counts["RESET"] > 0
        records = verify(
            lab,
            run,
            stdin,
            files,
            row=("endpoint down 8 s", "proxy resets every connection for 8 s"),
        )
        assert all(r.status == "uploaded" for r in records)

    def test_ten_thousand_records_against_a_dead_endpoint_end_within_two_minutes(
        self, lab: Lab
    ) -> None:
        """The endpoint dies for good after a few uploads: the rest fail fast, all reported."""
        source = lab.root / "one"
        source.write_bytes(b"same bytes for every key\n")
        keys = [f"k{n:05d}" for n in range(10_000)]
        files = dict.fromkeys(keys, source.read_bytes())
        stdin = b"".join(json.dumps({"path": str(source), "key": k}).encode() + b"\n" for k in keys)
        lab.proxy.policy = lambda request: PASS if request.seq < 50 else RESET
        started = time.monotonic()
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "--put", "stupid", timeout=150)
        elapsed = time.monotonic() - started
        records = verify(
            lab,
            run,
            stdin,
            files,
            row=("endpoint dead", f"proxy resets all after 50 requests; run took {elapsed:.0f} s"),
        )
        assert elapsed < 120
        failed = [r for r in records if r.status == "failed"]
        assert len(failed) > 9_000
        odd = {str(r.error) for r in failed if "endpoint down" not in str(r.error)}
        assert all("AWS_IO_SOCKET_CLOSED" in error for error in odd), odd
        assert sum(r.attempts == 0 for r in failed) > 9_000  # never sent: failed fast

    def test_ctrl_c_while_the_endpoint_is_down_stops_at_once(self, lab: Lab) -> None:
        """Requests waiting out a dead endpoint do not hold Ctrl-C up: all reported, exit 130."""
        files = make_files(lab.root / "src", 200)
        lab.proxy.policy = faultproxy.always(RESET)
        stdin = ndjson(lab.root / "src", list(files))
        process, out = start_put(lab.proxy.url, lab.bucket, stdin, lab.env)
        time.sleep(3)  # the breaker is open by now; records wait for the endpoint
        stopped = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
        assert time.monotonic() - stopped < 8
        run = subprocess.CompletedProcess(
            process.args, process.returncode, out.stdout(), out.stderr()
        )
        records = verify(
            lab,
            run,
            stdin,
            files,
            row=("Ctrl-C, endpoint down", "SIGINT 3 s into a run against resets"),
            exit_code=130,
        )
        assert all("interrupted" in str(r.error) for r in records), {r.error for r in records}


class TestParts:
    """Multipart uploads under faults leave nothing behind."""

    def test_failing_parts_are_retried(self, lab: Lab) -> None:
        """A 40 MiB file whose first three parts get 500: stored whole, no parts left."""
        source = lab.root / "src"
        source.mkdir()
        data = os.urandom(40 * MiB)
        (source / "big").write_bytes(data)
        lab.proxy.policy = faultproxy.first(
            3, faultproxy.answer(500), where=lambda r: "partNumber" in r.params
        )
        stdin = ndjson(source, ["big"])
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env)
        records = verify(
            lab,
            run,
            stdin,
            {"big": data},
            row=("parts refused", "proxy answers 500 to 3 of 5 UploadPart"),
        )
        assert records[0].status == "uploaded"
        assert (records[0].attempts or 1) - 1 == lab.proxy.counts["ANSWER"] > 0
        assert no_uploads_left(lab.s3, lab.bucket)

    def test_a_failed_completion_is_aborted(self, lab: Lab) -> None:
        """CompleteMultipartUpload always fails: the record says so and the parts are gone."""
        source = lab.root / "src"
        source.mkdir()
        data = os.urandom(20 * MiB)
        (source / "big").write_bytes(data)
        lab.proxy.policy = faultproxy.always(faultproxy.answer(500))
        lab.proxy.policy = _only(
            faultproxy.answer(500), lambda r: r.method == "POST" and "uploadId" in r.params
        )
        stdin = ndjson(source, ["big"])
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "--retries", "1")
        records = verify(
            lab,
            run,
            stdin,
            {"big": data},
            row=("completion fails", "proxy answers 500 to CompleteMultipartUpload"),
        )
        assert records[0].status == "failed"
        assert "CompleteMultipartUpload" in str(records[0].error)
        assert records[0].upload_id is None
        assert no_uploads_left(lab.s3, lab.bucket)


class TestSignals:
    """The pipeline stopped by a signal, or put killed outright."""

    @pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
    def test_signal_to_the_whole_pipeline(self, sig: signal.Signals, lab: Lab) -> None:
        """Walk | put | stat stopped as Ctrl-C stops it: every record walk wrote has a result."""
        files = make_files(lab.root / "src", 3000)
        with FaultProxy(lab.server.s3_port, latency=0.01) as proxy:
            keep = "(trap '' INT TERM; exec tee {})"  # a copy of each stage's output
            script = (
                f"s3pput-walk {lab.root / 'src'} | {keep.format('walk.ndjson')} "
                f"| s3pput-put --bucket {lab.bucket} --endpoint-url {proxy.url} --no-cache -j 4 "
                f"| {keep.format('put.ndjson')} | s3pput-stat > stat.txt; "
                'echo "${PIPESTATUS[@]}" > status.txt'
            )
            process = subprocess.Popen(
                ["bash", "-c", script],
                cwd=lab.root,
                env=lab.env,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            deadline = time.monotonic() + 60
            while (
                (lab.root / "put.ndjson").stat().st_size < 2000
                if (lab.root / "put.ndjson").exists()
                else True
            ):
                assert time.monotonic() < deadline
                time.sleep(0.1)
            # As a terminal's Ctrl-C does: every stage gets it, the shell does not.
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
            for child in children.split():
                os.kill(int(child), sig)
            _, stderr = process.communicate(timeout=60)
        walk_exit, _, put_exit, _, stat_exit = map(
            int, (lab.root / "status.txt").read_text().split()
        )
        assert (walk_exit, put_exit, stat_exit) == (130, 130, 130)
        walked = (lab.root / "walk.ndjson").read_bytes()
        assert walked.endswith(b"\n"), "walk cut its last line"
        results = parse((lab.root / "put.ndjson").read_bytes())
        assert len(results) == walked.count(b"\n")
        assert b"Traceback" not in stderr, stderr[-3000:]
        verified = 0
        for record in results:
            if record.status == "uploaded":
                stored = lab.s3.get_object(Bucket=lab.bucket, Key=record.key)["Body"].read()
                assert stored == files[Path(str(record.path)).name]
                verified += 1
        interrupted = [r for r in results if r.status == "failed"]
        assert interrupted, "the run ended before the signal"
        assert all(r.error == "interrupted" for r in interrupted)
        assert "failed" in (lab.root / "stat.txt").read_text()
        _ROWS.append(
            Row(
                f"{sig.name} to the pipeline",
                "kill every stage of walk | put | stat (exit: put's)",
                walked.count(b"\n"),
                len(results),
                verified,
                len(interrupted),
                0,
                put_exit,
            )
        )

    def test_put_killed_outright_then_replayed(self, lab: Lab) -> None:
        """SIGKILL put: what it wrote is whole lines; replaying walk's records finishes the job."""
        files = make_files(lab.root / "src", 2000)
        stdin = ndjson(lab.root / "src", list(files))
        with FaultProxy(lab.server.s3_port, latency=0.01) as proxy:
            process, out = start_put(proxy.url, lab.bucket, stdin, lab.env, "-j", "4")
            assert out.wait_for_lines(100, timeout=60)
            process.kill()
            process.wait(timeout=30)
        before = parse(out.stdout())
        assert 0 < len(before) < len(files)
        assert process.returncode == -signal.SIGKILL
        run = put(lab.server.endpoint_url, lab.bucket, stdin, lab.env, "--put", "update")
        records = verify(
            lab,
            run,
            stdin,
            files,
            row=("put SIGKILLed, replayed", "kill -9 put mid-run; replay with --put update"),
        )
        assert {r.status for r in records} <= {"uploaded", "skipped"}
        assert sum(r.status == "skipped" for r in records) >= len(before)


def _only(fault: faultproxy.Fault, where: Any) -> faultproxy.Policy:
    """``fault`` for the requests ``where`` picks, PASS for the others."""
    return lambda request: fault if where(request) else PASS


class _Collector:
    """Read a process's stdout and stderr on threads, so a test can wait for lines."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._out = bytearray()
        self._err = bytearray()
        self._changed = threading.Condition()
        self._threads = [
            threading.Thread(target=self._pump, args=(process.stdout, self._out), daemon=True),
            threading.Thread(target=self._pump, args=(process.stderr, self._err), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _pump(self, stream: Any, into: bytearray) -> None:
        for chunk in iter(lambda: stream.read1(65536), b""):
            with self._changed:
                into.extend(chunk)
                self._changed.notify_all()

    def wait_for_lines(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` whole lines came out; False if not within ``timeout``."""
        with self._changed:
            return self._changed.wait_for(lambda: self._out.count(b"\n") >= count, timeout)

    def stdout(self) -> bytes:
        """Everything written to stdout (call after the process ended)."""
        for thread in self._threads:
            thread.join(10)
        return bytes(self._out)

    def stderr(self) -> bytes:
        """Everything written to stderr."""
        return bytes(self._err)


class TestRateLimits:
    """--max-requests and --max-bandwidth hold across all jobs, on the wire."""

    def test_max_requests_on_the_wire(self, lab: Lab) -> None:
        """60 PUTs at --max-requests 20 with 16 jobs: about 3 s, never 23 in one second."""
        files = make_files(lab.root / "src", 60)
        seen: list[float] = []

        def policy(request: faultproxy.RequestInfo) -> faultproxy.Fault:
            if request.method == "PUT":
                seen.append(time.monotonic())
            return PASS

        lab.proxy.policy = policy
        stdin = ndjson(lab.root / "src", list(files))
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "-j", "16", "--put", "stupid",
                  "--max-requests", "20")  # fmt: skip
        verify(lab, run, stdin, files, row=("--max-requests 20", "60 PUTs, 16 jobs"))
        assert len(seen) == len(files)
        assert 2.4 < seen[-1] - seen[0] < 6
        assert max(sum(1 for t in seen if s <= t < s + 1) for s in seen) <= 23

    def test_max_bandwidth_on_the_wire(self, lab: Lab) -> None:
        """4 MiB in 512 KiB files at --max-bandwidth 1M: at least 3 s, whatever -j says."""
        files = make_files(lab.root / "src", 8, size=512 * 1024)
        stdin = ndjson(lab.root / "src", list(files))
        started = time.monotonic()
        run = put(lab.proxy.url, lab.bucket, stdin, lab.env, "-j", "16", "--put", "stupid",
                  "--max-bandwidth", "1M")  # fmt: skip
        elapsed = time.monotonic() - started
        verify(lab, run, stdin, files, row=("--max-bandwidth 1M", "4 MiB, 16 jobs"))
        assert 3.0 < elapsed < 15
