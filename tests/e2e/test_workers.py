"""Put's worker processes, end to end: a worker that dies, a stop, the pipeline's ends.

``s3pput-put --workers N`` forks N uploading processes; the reader process
keeps the promise of one result per record. Here a worker is killed with
SIGKILL while it holds records (PUTs are slowed down by a relay so that it
does), the run is stopped with SIGINT, and the pipeline's ends are checked:
only put holds them, so the stages around it see it end when it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from faultproxy import PASS, RESET, FaultProxy, RequestInfo, always, delay

from s3pput.records import Record, from_json, to_json
from s3pput.sandbox.local_s3 import LocalS3

FILES = 24
SLOW_PUT = 4.0
"""Seconds each PUT of a file is held by the relay, so a worker holds records for a while."""


def slow_puts(request: RequestInfo) -> Any:  # a faultproxy Fault
    """Every PUT of an object waits SLOW_PUT seconds; listings pass at once."""
    return delay(SLOW_PUT) if request.method == "PUT" else PASS


def write_files(root: Path, count: int) -> list[Record]:
    """``count`` small files in two directories, as records."""
    records = []
    for number in range(count):
        path = root / f"d{number % 2}" / f"f{number:03d}"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * (number + 1))
        records.append(Record(path=str(path), key=f"w/{path.parent.name}/{path.name}"))
    return records


def children(pid: int) -> list[int]:
    """The processes ``pid`` forked (its worker processes)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def start_put(
    env: dict[str, str], url: str, bucket: str, records: list[Record], *extra: str
) -> subprocess.Popen[bytes]:
    """``s3pput-put`` with two workers and ``records`` on its stdin (closed)."""
    put = subprocess.Popen(
        ["s3pput-put", "--bucket", bucket, "--endpoint-url", url, "--workers", "2", *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert put.stdin is not None
    put.stdin.write(b"".join(to_json(record) for record in records))
    put.stdin.close()
    return put


def wait_for_puts(proxy: FaultProxy, count: int) -> None:
    """Until the relay has seen ``count`` PUTs (records held by both workers)."""
    deadline = time.monotonic() + 60
    while sum(seen.method == "PUT" for seen in proxy.requests) < count:
        assert time.monotonic() < deadline, f"only {proxy.requests} reached the relay"
        time.sleep(0.02)


@contextlib.contextmanager
def holding_records(
    env: dict[str, str], server: LocalS3, bucket: str, records: list[Record], *extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], list[int]]]:
    """Put with 2 workers behind a relay that slows PUTs, once both workers hold records.

    Yields put and its workers' PIDs; put is killed at the end if it still runs.
    """
    with FaultProxy(server.s3_port, slow_puts) as proxy:
        put = start_put(env, proxy.url, bucket, records, "-j", "8", *extra)
        try:
            wait_for_puts(proxy, 8)
            yield put, children(put.pid)
        finally:
            if put.poll() is None:
                put.kill()
            put.wait()


def results_of(put: subprocess.Popen[bytes]) -> tuple[list[Record], str]:
    """Every result record put wrote, and its stderr, once it has exited."""
    assert put.stdout is not None
    assert put.stderr is not None
    out = put.stdout.read()
    put.wait(timeout=120)
    err = put.stderr.read()
    return [from_json(line) for line in out.splitlines()], err.decode()


def test_a_killed_worker_costs_only_the_records_it_held(
    s3_env: dict[str, str], s3_server: LocalS3, s3: Any, bucket: str, tmp_path: Path
) -> None:
    """SIGKILL to one worker: its records fail "worker died", the rest upload, none is lost."""
    records = write_files(tmp_path, FILES)
    with holding_records(s3_env, s3_server, bucket, records) as (put, workers):
        assert len(workers) == 2, workers
        os.kill(workers[0], signal.SIGKILL)
        results, err = results_of(put)
    assert "Traceback" not in err, err
    assert put.returncode == 1, err
    assert Counter(result.key for result in results) == Counter(r.key for r in records)
    died = [result for result in results if result.status == "failed"]
    uploaded = [result for result in results if result.status == "uploaded"]
    assert died, "the killed worker held no record"
    assert uploaded, "the surviving worker uploaded nothing"
    assert len(died) + len(uploaded) == FILES
    assert {result.error for result in died} == {"worker died (killed by SIGKILL)"}
    stored = {
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="w/")
        for item in page.get("Contents", [])
    }
    assert {result.key for result in uploaded} <= stored


def test_a_stopped_run_reports_every_record_once(
    s3_env: dict[str, str], s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """SIGINT to put while both workers hold records: each record comes out once, exit 130."""
    records = write_files(tmp_path, FILES)
    with holding_records(s3_env, s3_server, bucket, records) as (put, workers):
        put.send_signal(signal.SIGINT)
        results, err = results_of(put)
    assert "Traceback" not in err, err
    assert put.returncode == 130, err
    assert Counter(result.key for result in results) == Counter(r.key for r in records)
    assert {result.error for result in results if result.status == "failed"} == {"interrupted"}
    assert not any(alive(pid) for pid in workers), "a worker outlived put"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_workers_hold_no_pipeline_end_and_die_with_put(
    s3_env: dict[str, str], s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """Workers read /dev/null and write /dev/null (only put holds the pipes), and die with it.

    A worker holding put's stdout would keep the next stage waiting for the
    end of its input after put is gone; one holding stdin would keep the
    stage before from ever learning that put stopped reading.
    """
    records = write_files(tmp_path, FILES)
    with holding_records(s3_env, s3_server, bucket, records) as (put, workers):
        assert len(workers) == 2, workers
        for pid in workers:
            for fd in (0, 1):
                assert str(Path(f"/proc/{pid}/fd/{fd}").readlink()) == os.devnull
        put.kill()
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, "a worker outlived the reader"
            time.sleep(0.05)


def test_workers_come_from_the_flag_else_the_environment(
    s3_env: dict[str, str], s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """--workers wins over $S3PPUT_WORKERS; --workers 1 forks nothing."""
    records = write_files(tmp_path, 8)
    cases = [({"S3PPUT_WORKERS": "3"}, (), 3), ({"S3PPUT_WORKERS": "3"}, ("--workers", "1"), 0)]
    with FaultProxy(s3_server.s3_port, slow_puts) as proxy:
        for variables, flags, forked in cases:
            env = {**s3_env, **variables}
            command = ["s3pput-put", "--bucket", bucket, "--endpoint-url", proxy.url]
            put = subprocess.Popen(
                [*command, "--put", "stupid", *flags],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
            try:
                assert put.stdin is not None
                put.stdin.write(b"".join(to_json(record) for record in records))
                put.stdin.close()
                before = len(proxy.requests)
                deadline = time.monotonic() + 60
                while sum(seen.method == "PUT" for seen in proxy.requests[before:]) < 1:
                    assert time.monotonic() < deadline, "no PUT reached the relay"
                    time.sleep(0.02)
                assert len(children(put.pid)) == forked, (variables, flags)
                results, err = results_of(put)
            finally:
                if put.poll() is None:
                    put.kill()
                    put.wait()
            assert put.returncode == 0, err
            assert Counter(r.key for r in results) == Counter(r.key for r in records)


def test_sigint_stops_put_even_if_it_started_ignoring_it(
    s3_env: dict[str, str], s3_server: LocalS3, bucket: str, tmp_path: Path
) -> None:
    """A script's background job starts with SIGINT ignored; ``kill -INT`` still stops put.

    The endpoint resets every connection, so put is still checking the bucket
    when the signal comes: before, the check waited out the dead endpoint.
    """
    records = write_files(tmp_path, 20)
    with FaultProxy(s3_server.s3_port, always(RESET)) as proxy:
        put = subprocess.Popen(
            ["s3pput-put", "--bucket", bucket, "--endpoint-url", proxy.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=s3_env,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509  # the state a background job starts in
        )
        try:
            assert put.stdin is not None
            put.stdin.write(b"".join(to_json(record) for record in records))
            put.stdin.close()
            time.sleep(2)
            put.send_signal(signal.SIGINT)
            results, err = results_of(put)
        finally:
            if put.poll() is None:
                put.kill()
                put.wait()
    assert put.returncode == 130, err
    assert Counter(result.key for result in results) == Counter(r.key for r in records)
