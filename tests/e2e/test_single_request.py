"""Files sent in one request: the bytes sent are the file's, and the record says their MD5.

A store may check nothing (moto's server and s3rver store a damaged body and
answer 200); a file may change while it is read; a path may turn into a fifo
between put's stat and its open. None of these may end as a record that says
``uploaded`` with a digest of other bytes, or as a run that never ends.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from resigning import ChecksumBlindStore

from s3pput.errors import ChangedWhileUploadingError, NotRegularFileError, StoredOtherBytesError
from s3pput.put.options import PutOptions
from s3pput.put.uploader import Uploader
from s3pput.records import Record, from_json
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.clients import ClientOptions, make_client, make_putter

PUT = str(Path(sys.executable).parent / "s3pput-put")
KiB = 1024


def md5(data: bytes) -> str:
    """Hex MD5."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def put(
    env: dict[str, str], records: list[dict[str, Any]], *options: str, timeout: float = 120
) -> tuple[int, list[Record]]:
    """Run s3pput-put on some records; (exit code, results)."""
    run = subprocess.run(
        [PUT, *options],
        input=b"".join(json.dumps(r).encode() + b"\n" for r in records),
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    return run.returncode, [from_json(line) for line in run.stdout.splitlines() if line.strip()]


CASES = {
    "small file": (4 * KiB, []),
    "file read by a worker": (300 * KiB, []),
    "small gzipped": (64 * KiB, ["--gzip", "--gzip-type", "all"]),
}


class TestStoreThatChecksNothing:
    @pytest.mark.parametrize("case", list(CASES))
    def test_a_damaged_body_is_never_recorded_nor_cached(  # noqa: PLR0913, PLR0917  # fixtures
        self,
        case: str,
        s3_server: LocalS3,
        s3_env: dict[str, str],
        s3: Any,
        bucket: str,
        tmp_path: Path,
    ) -> None:
        """The record fails though the store said 200; the next update run uploads good bytes."""
        size, options = CASES[case]
        path = tmp_path / "file.bin"
        data = os.urandom(size)
        path.write_bytes(data)
        records = [{"path": str(path), "key": "k"}]
        keys = (s3_server.access_key, s3_server.secret_key)
        relay = ChecksumBlindStore(s3_server.s3_port, keys, damage_objects=True)
        try:
            code, [first] = put(
                {**s3_env, "AWS_ENDPOINT_URL": relay.url},
                records,
                "--bucket",
                bucket,
                "--put",
                "update",
                *options,
            )
        finally:
            relay.close()
        assert relay.damaged >= 1, "the relay damaged nothing: nothing was tested"
        assert "x-amz-checksum-crc32" in relay.stripped
        assert (code, first.status) == (1, "failed"), first
        assert "other bytes" in str(first.error), first.error
        code, [second] = put(s3_env, records, "--bucket", bucket, "--put", "update", *options)
        assert (code, second.status) == (0, "uploaded"), second
        stored = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
        assert (gzip.decompress(stored) if options else stored) == data
        assert second.md5 == md5(data)


class TestRecordedMd5:
    @pytest.mark.parametrize("case", list(CASES))
    def test_the_record_md5_is_of_the_bytes_the_store_returns(
        self, case: str, s3_env: dict[str, str], s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """GET the object back: its bytes (ungzipped) have the record's md5; its ETag is theirs."""
        size, options = CASES[case]
        path = tmp_path / "file.bin"
        path.write_bytes(os.urandom(size))
        code, [result] = put(
            s3_env, [{"path": str(path), "key": "k"}], "--bucket", bucket, *options
        )
        assert (code, result.status) == (0, "uploaded"), result
        stored = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
        assert result.md5 == md5(gzip.decompress(stored) if options else stored)
        assert result.etag == md5(stored)


@pytest.fixture(name="uploader")
def fixture_uploader(s3_server: LocalS3, bucket: str) -> Uploader:
    """An uploader to the test bucket, in process, on the real server."""
    options = ClientOptions(endpoint_url=s3_server.endpoint_url)
    client = make_client(options)
    putter = make_putter(options, client, part_size=8 << 20, multipart_threshold=8 << 20)
    return Uploader(client, putter, PutOptions(bucket=bucket, mode="stupid"))


class TestChangedWhileUploading:
    def test_a_file_changed_since_its_stat_is_not_sent(
        self, uploader: Uploader, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A file that is no longer the version decided on is refused; nothing lands."""
        path = tmp_path / "f"
        path.write_bytes(b"first version")
        decided = path.stat()
        path.write_bytes(b"second version, longer")
        with pytest.raises(ChangedWhileUploadingError):
            uploader.destination.send_path(
                "k", str(path), [], size=decided.st_size, expected=decided
            )
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


class TestFifo:
    @pytest.mark.timeout(120)
    def test_a_path_swapped_for_a_fifo_fails_without_hanging(
        self, uploader: Uploader, tmp_path: Path
    ) -> None:
        """Stat'ed as a file, a fifo when sent: a failed record at once, no blocked thread."""
        path = tmp_path / "f"
        path.write_bytes(b"a file")
        decided = path.stat()
        fifo = tmp_path / "pipe"
        os.mkfifo(fifo)
        fifo.replace(path)
        outcome: list[BaseException | None] = []

        def send() -> None:
            try:
                uploader.destination.send_path(
                    "k", str(path), [], size=decided.st_size, expected=decided
                )
                outcome.append(None)
            except (OSError, StoredOtherBytesError) as exc:
                outcome.append(exc)

        thread = threading.Thread(target=send, daemon=True)
        thread.start()
        thread.join(60)
        assert outcome, "sending a fifo blocked"
        assert isinstance(outcome[0], NotRegularFileError), outcome

    @pytest.mark.timeout(600)
    def test_paths_swapped_for_fifos_during_a_run_end_the_run(
        self, s3_env: dict[str, str], bucket: str, tmp_path: Path
    ) -> None:
        """2,000 files, some flipping between file and fifo all along: one result each, an end."""
        root = tmp_path / "tree"
        root.mkdir()
        paths = [root / f"f{i:04d}" for i in range(2000)]
        for path in paths:
            path.write_bytes(os.urandom(512))
        doomed = [paths[i] for i in range(5, len(paths), 7)]
        stop = threading.Event()

        def flip() -> None:
            """Rename files, then fifos, over all doomed paths in turn, until the run ends."""
            spare = tmp_path / "spare"
            while not stop.is_set():
                for path in doomed:
                    spare.write_bytes(b"a file again")
                    spare.replace(path)
                for path in doomed:
                    os.mkfifo(spare)
                    spare.replace(path)

        flipper = threading.Thread(target=flip, daemon=True)
        flipper.start()
        try:
            code, results = put(
                s3_env,
                [{"path": str(p), "key": p.name} for p in paths],
                "--bucket",
                bucket,
                "--put",
                "stupid",
                timeout=180,
            )
        finally:
            stop.set()
            flipper.join()
        assert code == 1
        assert sorted(str(r.key) for r in results) == sorted(p.name for p in paths)
        names = {p.name for p in doomed}
        for record in results:
            if record.key not in names:
                assert record.status == "uploaded", record
            elif record.status != "uploaded":
                error = str(record.error)
                assert "not a regular file: fifo" in error or "changed while" in error, error
