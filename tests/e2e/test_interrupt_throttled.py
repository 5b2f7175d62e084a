"""Stopping a throttled upload in parts: the record carries an upload that still exists.

With --max-bandwidth or --max-requests the parts wait in the dispatcher's
queue, and a stop fails them at once; the record of the interrupted file
must still say ``upload_id`` and ``part_size`` (the upload left on the server,
not aborted), and replaying it must finish the upload with the file's bytes.
End to end on the real server, with SIGINT (Ctrl-C) and SIGTERM (``kill``).
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from test_large import stored_md5, write_random
from test_resume import parts_on_server, run_put

from s3pput.records import Record, from_json, to_json
from s3pput.sandbox.local_s3 import LocalS3

MiB = 1 << 20

LIMITS = {
    "max-bandwidth": ["--max-bandwidth", "2M"],
    "max-requests": ["--max-requests", "1"],
}
"""Throttles that stretch a 40 MiB upload in 5 MiB parts over many seconds."""


def stop_throttled_upload(  # noqa: PLR0913  # what the stopped run needs
    env: dict[str, str],
    url: str,
    s3: Any,
    bucket: str,
    path: Path,
    *,
    limit: list[str],
    signum: int,
) -> Record:
    """Start a throttled put on ``path``, signal it once a part is stored; its one record."""
    record = Record(path=str(path), key=path.name)
    put = subprocess.Popen(
        ["s3pput-put", "--bucket", bucket, "--endpoint-url", url, "--part-size", "5M", *limit],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert put.stdin is not None
        put.stdin.write(to_json(record))
        put.stdin.flush()
        deadline = time.monotonic() + 120
        while not parts_on_server(s3, bucket, path.name)[1]:
            assert put.poll() is None, "put ended before it could be interrupted"
            assert time.monotonic() < deadline, "no part ever arrived"
            time.sleep(0.05)
        put.send_signal(signum)
        out, err = put.communicate(timeout=120)
    finally:
        if put.poll() is None:
            put.kill()
            put.wait()
    assert b"Traceback" not in err, err.decode()
    assert put.returncode == 130, err.decode()  # interrupted
    [result] = [from_json(line) for line in out.splitlines()]
    return result


@pytest.mark.parametrize("limit", LIMITS.values(), ids=LIMITS.keys())
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_throttled_upload_keeps_its_id_and_resumes(  # noqa: PLR0913, PLR0917  # fixtures and cases
    s3_env: dict[str, str],
    s3: Any,
    s3_server: LocalS3,
    bucket: str,
    tmp_path: Path,
    limit: list[str],
    signum: int,
) -> None:
    """The interrupted record names the upload on the server; its replay completes it."""
    path = tmp_path / "throttled.bin"
    md5 = write_random(path, 40 * MiB)
    stopped = stop_throttled_upload(
        s3_env, s3_server.endpoint_url, s3, bucket, path, limit=limit, signum=signum
    )
    assert (stopped.status, stopped.error) == ("failed", "interrupted")
    assert stopped.part_size == 5 * MiB
    assert stopped.upload_id is not None
    upload_id, stored = parts_on_server(s3, bucket, path.name)
    assert upload_id == stopped.upload_id  # it exists: neither aborted nor lost
    assert stored

    [resumed] = run_put(s3_env, s3_server.endpoint_url, bucket, stopped)
    assert resumed.status == "uploaded", resumed.error
    assert resumed.bytes is not None
    assert resumed.bytes <= 40 * MiB - 5 * MiB  # the stored parts were kept
    assert stored_md5(s3, bucket, path.name) == md5
    assert parts_on_server(s3, bucket, path.name) == (None, [])
