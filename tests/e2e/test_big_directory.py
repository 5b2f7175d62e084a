"""A directory too big to keep in memory is read through a window: a page per 1,000, no HEADs.

The limits are lowered through S3PPUT_LISTING_LIMITS (a test-only variable)
so that 3,000 files count as a directory of millions would, and the second
run goes through the real command, with worker threads, to the real server;
a relay counts its requests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from faultproxy import FaultProxy, Seen

from s3pput.put.index_limits import LIMITS_VARIABLE
from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3

PUT = str(Path(sys.executable).parent / "s3pput-put")
FILES = 3_000
LIMITS = "max_entries=500,tree_limit=500,window_keys=2000"
"""Each below the directory's 3,000 keys (a window keeps at least 2,000)."""


@pytest.fixture(name="uploaded")
def fixture_uploaded(tmp_path: Path, s3_env: dict[str, str], bucket: str) -> list[bytes]:
    """FILES small files in one directory, uploaded once; their records, in walk's order."""
    root = tmp_path / "src"
    root.mkdir()
    lines = []
    for n in range(FILES):
        path = root / f"f{n:04d}.txt"
        path.write_bytes(b"%d\n" % n)
        lines.append(json.dumps({"path": str(path), "key": f"big/{path.name}"}).encode() + b"\n")
    first = put(["--bucket", bucket], b"".join(lines), s3_env)
    assert {r.status for r in first} == {"uploaded"}
    return lines


def put(args: list[str], stdin: bytes, env: dict[str, str]) -> list[Record]:
    """Run ``s3pput-put`` to the end; its result records."""
    run = subprocess.run(
        [PUT, *args], input=stdin, env=env, capture_output=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr.decode()[-3000:]
    return [from_json(line) for line in run.stdout.splitlines()]


def second_run(
    lines: list[bytes], server: LocalS3, env: dict[str, str], bucket: str
) -> tuple[list[Record], list[Seen]]:
    """``--put update`` over ``lines`` through a counting relay, with the limits lowered."""
    with FaultProxy(server.s3_port) as relay:
        lowered = {**env, LIMITS_VARIABLE: LIMITS, "AWS_ENDPOINT_URL": relay.url}
        args = ["--bucket", bucket, "--put", "update", "--no-cache", "-j", "16"]
        results = put(args, b"".join(lines), lowered)
        return results, relay.requests


def lists(requests: list[Seen]) -> list[str]:
    """The targets of the list requests among ``requests`` (not the bucket check's one key)."""
    return [
        seen.target
        for seen in requests
        if "list-type=2" in seen.target and "max-keys=1" not in seen.target
    ]


class TestBigDirectory:
    def test_second_run_lists_a_page_per_thousand_keys(
        self, uploaded: list[bytes], s3_server: LocalS3, s3_env: dict[str, str], bucket: str
    ) -> None:
        """3,000 unchanged files in a directory too big to keep: no HEAD, about 3 list pages."""
        results, requests = second_run(uploaded, s3_server, s3_env, bucket)
        files = [r for r in results if r.key is not None]
        assert len(files) == FILES
        assert {(r.status, r.reason) for r in files} == {("skipped", "unchanged")}
        methods = Counter(seen.method for seen in requests)
        assert methods["HEAD"] == 0
        assert methods["PUT"] == 0
        listed = lists(requests)
        # One to find the directory too big as a tree, then 3 pages of one listing
        # of the directory: begun by the index, gone on with by the window.
        assert len(listed) <= FILES // 1_000 + 1, listed

    def test_a_sparse_second_run_restarts_the_listing_near_each_key(
        self, uploaded: list[bytes], s3_server: LocalS3, s3_env: dict[str, str], bucket: str
    ) -> None:
        """A filtered input far apart in the directory: StartAfter jumps, a few lists per key."""
        # The window goes on from key 501, where the index's own listing stopped; each
        # later key is more than REACH (1,000) keys on, so the listing jumps to it.
        chosen = [uploaded[0], uploaded[1_800], uploaded[2_999]]
        results, requests = second_run(chosen, s3_server, s3_env, bucket)
        files = [r for r in results if r.key is not None]
        assert {(r.status, r.reason) for r in files} == {("skipped", "unchanged")}
        assert len(files) == len(chosen)
        assert Counter(seen.method for seen in requests)["HEAD"] == 0, requests
        listed = lists(requests)
        assert sum("start-after=" in target for target in listed) == 2, listed
        assert len(listed) <= 2 * len(chosen) + 2, listed
