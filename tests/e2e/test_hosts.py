"""walk | parallel --pipe -S h1,h2 put | stat across two real ssh hosts, one of which dies.

The sharded form (each host walks its own ``--shard``, one stat merges) runs
too. The hosts are sshd servers in network namespaces the test makes (see
netns_hosts.py); GNU parallel drives them over ssh, exactly as the README
shows. The server is the suite's real SeaweedFS, reached from the hosts
through a relay on the first host's gateway address. Every test checks that
each file has exactly one record and that the bucket holds every file's bytes.
With S3PPUT_HOSTS_REPORT naming a file, each run's commands and what the user
saw are written there (``make hosts``), for the closing note of issue #6.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from faultproxy import FaultProxy
from netns_hosts import Hosts

from s3pput.records import Record, from_json, is_total
from s3pput.sandbox.local_s3 import LocalS3

FILES = 3000
PACE = "--max-requests 100"
"""Per put: two jobs on each of two hosts take about 8 s, long enough to kill a host."""

_REPORT: list[str] = []


class Run(NamedTuple):
    """One pipeline: every stage's exit status, and what it wrote."""

    statuses: list[int]
    records: list[Record]
    summary: str
    stderr: str
    joblog: list[dict[str, str]]

    def results(self) -> list[Record]:
        """The file records (not the total record)."""
        return [record for record in self.records if not is_total(record)]

    def by_status(self) -> collections.Counter[str]:
        """How many results of each status."""
        return collections.Counter(record.status or "" for record in self.results())


class Lab(NamedTuple):
    """Two hosts, a bucket, a tree of files, and the way to run the pipeline over them."""

    hosts: Hosts
    bucket: str
    tree: Path
    workdir: Path
    env: dict[str, str]
    s3: Any


@pytest.fixture(scope="module", autouse=True)
def _write_report() -> Iterator[None]:
    yield
    target = os.environ.get("S3PPUT_HOSTS_REPORT")
    if target and _REPORT:
        Path(target).write_text("# Two hosts (make hosts)\n\n" + "\n".join(_REPORT))


@pytest.fixture(name="lab")
def fixture_lab(
    s3_server: LocalS3, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
) -> Iterator[Lab]:
    """Two hosts with s3pput on their PATH and this server's credentials; 3,000 files."""
    tree = tmp_path / "tree"
    for n in range(FILES):
        folder = tree / f"d{n % 30:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n:04d}.txt").write_bytes(f"file {n}\n".encode() * (1 + n % 7))
    workdir = tmp_path / "hosts"
    workdir.mkdir()
    with Hosts(workdir) as hosts:
        hosts.make_network()
        with FaultProxy(s3_server.s3_port, listen_host=hosts.gateway) as relay:
            host_env = {
                "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                **s3_server.env(),
                "AWS_ENDPOINT_URL": relay.url,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "XDG_CACHE_HOME": str(workdir / "cache"),
            }
            hosts.start(host_env)
            yield Lab(hosts, bucket, tree, tmp_path, s3_env, s3)
            assert relay.errors == []


def pipeline(lab: Lab, name: str, hosts: str, *parallel_options: str) -> str:
    """The README's multi-host pipeline, with a job log and every stage's status kept."""
    return (
        f"s3pput-walk --count {lab.tree} --prefix run "
        f"| parallel --will-cite --pipe --block 20k -S {hosts} --ssh '{lab.hosts.ssh}' "
        f"--joblog {name}.jobs {' '.join(parallel_options)} "
        f"s3pput-put --bucket {lab.bucket} {PACE} "
        f"| tee {name}.ndjson | s3pput-stat > {name}.summary; "
        f"echo ${{PIPESTATUS[@]}} > {name}.status"
    )


def start(lab: Lab, script: str) -> subprocess.Popen[bytes]:
    """Start a pipeline in bash, in the test's directory."""
    return subprocess.Popen(
        ["bash", "-c", script], cwd=lab.workdir, env=lab.env, stderr=subprocess.PIPE
    )


def finish(lab: Lab, name: str, process: subprocess.Popen[bytes], script: str) -> Run:
    """Wait for a pipeline; read what it wrote, and note it for the report."""
    _, stderr = process.communicate(timeout=300)
    folder = lab.workdir
    lines = (folder / f"{name}.ndjson").read_bytes().splitlines()
    header, *rows = (folder / f"{name}.jobs").read_text().splitlines()
    run = Run(
        statuses=[int(n) for n in (folder / f"{name}.status").read_text().split()],
        records=[from_json(line) for line in lines],
        summary=(folder / f"{name}.summary").read_text(),
        stderr=stderr.decode(errors="replace"),
        joblog=[dict(zip(header.split("\t"), row.split("\t"), strict=True)) for row in rows],
    )
    shown = script.replace(str(lab.workdir) + "/", "").replace(lab.hosts.ssh, "ssh -F ssh_config")
    jobs = collections.Counter((job["Host"], job["Exitval"]) for job in run.joblog)
    _REPORT.append(
        f"## {name}\n\n```\n$ {shown}\n```\n\nstderr (first lines):\n\n```\n"
        + "\n".join(run.stderr.splitlines()[:6])
        + f"\n```\n\ns3pput-stat:\n\n```\n{run.summary}```\n\n"
        f"exit statuses (walk parallel put... stat): {run.statuses}; "
        f"jobs by (host, exit): {dict(sorted(jobs.items()))}\n"
    )
    return run


def run_to_end(lab: Lab, name: str, hosts: str, *parallel_options: str) -> Run:
    """Run a pipeline over ``hosts`` and wait for it."""
    script = pipeline(lab, name, hosts, *parallel_options)
    return finish(lab, name, start(lab, script), script)


def run_and_crash(lab: Lab, name: str, victim: str, *parallel_options: str) -> Run:
    """Run over h1 and h2; once the first results are in, ``victim`` dies (SIGKILL to all)."""
    script = pipeline(lab, name, "h1,h2", *parallel_options)
    process = start(lab, script)
    output = lab.workdir / f"{name}.ndjson"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if output.exists() and output.read_bytes().count(b"\n") > 100:
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before the host could be killed"
    lab.hosts[victim].crash()
    return finish(lab, name, process, script)


def keys_once(run: Run) -> set[str]:
    """The run's keys, checking that none has two records."""
    keys = [record.key or "" for record in run.results()]
    repeated = [key for key, count in collections.Counter(keys).items() if count > 1]
    assert repeated == [], f"keys with more than one record: {repeated[:5]}"
    return set(keys)


def assert_bucket_holds_the_tree(lab: Lab) -> None:
    """Every file is in the bucket with its own bytes (ETag = MD5 for these small files)."""
    listed = {}
    for page in lab.s3.get_paginator("list_objects_v2").paginate(Bucket=lab.bucket):
        listed.update({item["Key"]: item["ETag"].strip('"') for item in page.get("Contents", [])})
    expected = {
        f"run/{path.relative_to(lab.tree)}": hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324  # S3's ETag
        for path in lab.tree.rglob("*.txt")
    }
    assert listed == expected


def test_two_hosts_share_one_walk(lab: Lab) -> None:
    """Both hosts take chunks; every file has exactly one record, and the bucket has them all."""
    run = run_to_end(lab, "two-hosts", "h1,h2")
    assert run.statuses == [0, 0, 0, 0], run.stderr
    assert len(keys_once(run)) == FILES
    assert run.by_status() == {"uploaded": FILES}
    assert sum(is_total(record) for record in run.records) == 1
    assert {job["Host"] for job in run.joblog if job["Exitval"] == "0"} == {"h1", "h2"}
    assert f"uploaded: {FILES}" in run.summary
    assert_bucket_holds_the_tree(lab)


def test_a_dead_host_is_seen_and_the_replay_completes_the_run(lab: Lab) -> None:
    """h1 dies mid-run: parallel fails its jobs, stat says how many files have no record.

    Running the same pipeline again on the host that is left finishes the
    job: what h1 uploaded before it died is skipped as unchanged, the rest
    is uploaded, and again every file has one record.
    """
    run = run_and_crash(lab, "host-dies", "h1")
    failed_jobs = sum(job["Exitval"] != "0" or job["Signal"] != "0" for job in run.joblog)
    walk, parallel, stat = run.statuses[0], run.statuses[1], run.statuses[-1]
    assert (walk, stat) == (0, 1)
    assert parallel == failed_jobs > 0  # GNU parallel exits with the number of failed jobs
    done = keys_once(run)
    assert 0 < len(done) < FILES
    missing = FILES - len(done)
    assert f"missing:  {missing} (walk counted {FILES} files" in run.summary
    assert lab.hosts["h1"].address in run.stderr  # ssh names the host it lost
    uploaded_before = {record.key for record in run.results() if record.status == "uploaded"}

    replay = run_to_end(lab, "replay", "h2")
    assert replay.statuses == [0, 0, 0, 0], replay.stderr
    assert len(keys_once(replay)) == FILES
    skipped = {record.key for record in replay.results() if record.status == "skipped"}
    assert uploaded_before <= skipped  # nothing uploaded twice; h1's last unreported files too
    assert replay.by_status() == {"uploaded": FILES - len(skipped), "skipped": len(skipped)}
    assert_bucket_holds_the_tree(lab)


def test_parallel_retries_move_a_dead_hosts_chunks_to_the_other(lab: Lab) -> None:
    """With --retries, GNU parallel reruns h1's chunks on h2 and drops the dead attempts' output.

    The run ends complete and clean: each file has one record (uploaded, or
    skipped where h1 had sent it before dying), and every stage exits 0.
    """
    run = run_and_crash(lab, "host-dies-retries", "h1", "--retries 3")
    assert run.statuses == [0, 0, 0, 0], run.stderr
    assert len(keys_once(run)) == FILES
    assert set(run.by_status()) <= {"uploaded", "skipped"}
    assert "missing" not in run.summary
    assert any(job["Host"] == "h2" and job["Exitval"] == "0" for job in run.joblog)
    assert_bucket_holds_the_tree(lab)


def test_each_host_walks_its_own_share(lab: Lab) -> None:
    """The sharded form: each host walks its --shard of the tree; one stat merges their results."""
    script = (
        f"for i in 1 2; do ssh -F {lab.hosts.ssh_config} h$i "
        f"'s3pput-walk --count {lab.tree} --shard '$i'/2 --prefix run "
        f"| s3pput-put --bucket {lab.bucket} {PACE}' > shard$i.ndjson & done; wait; "
        "s3pput-stat --json shard1.ndjson shard2.ndjson > shards.json"
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=lab.workdir,
        env=lab.env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    shares = [
        [from_json(line) for line in (lab.workdir / f"shard{n}.ndjson").read_bytes().splitlines()]
        for n in (1, 2)
    ]
    keys = [record.key for share in shares for record in share if not is_total(record)]
    assert len(keys) == len(set(keys)) == FILES
    assert all(len(share) > FILES // 3 for share in shares)  # each host had a real share
    summary = json.loads((lab.workdir / "shards.json").read_text())
    assert (summary["uploaded"], summary["total_files"], summary["missing"]) == (FILES, FILES, 0)
    assert_bucket_holds_the_tree(lab)
