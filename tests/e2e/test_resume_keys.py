"""``s3pput --resume``: keys that earlier runs finished are reported skipped, without a request."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from s3pput.put.options import PutOptions
from s3pput.put.resume import Resuming, done_keys, resumed
from s3pput.put.run import RunOptions, make_uploader, run_put
from s3pput.put.uploader import Uploader
from s3pput.records import Record, from_json, to_json
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.clients import ClientOptions


@pytest.fixture(name="uploader")
def fixture_uploader(s3_server: LocalS3, bucket: str) -> Uploader:
    """An uploader for the test bucket, built as the one-command s3pput builds it."""
    return make_uploader(
        RunOptions(
            put=PutOptions(bucket=bucket),
            client=ClientOptions(endpoint_url=s3_server.endpoint_url),
            jobs=4,
            files=(),
            cache=None,
        )
    )


def file_record(path: Path, data: bytes) -> Record:
    """Create a file and the record walk would write for it."""
    path.write_bytes(data)
    return Record(path=str(path), key=path.name, size=len(data))


class TestDoneKeys:
    def test_only_uploaded_and_skipped_keys_are_done(self, tmp_path: Path) -> None:
        """Failed and planned records are not done; a line that is not a record is warned about."""
        run = tmp_path / "run.ndjson"
        lines = [
            to_json(Record(key="up", status="uploaded")),
            to_json(Record(key="same", status="skipped", reason="unchanged")),
            to_json(Record(key="broken", status="failed", error="boom")),
            to_json(Record(key="dry", status="planned")),
            to_json(Record(path="no-key", status="uploaded")),
            b"not json\n",
        ]
        run.write_bytes(b"".join(lines))
        with capture_logs() as logs:
            assert done_keys([str(run)]) == {"up", "same"}
        assert [(e["event"], e["line"]) for e in logs] == [("resume file line is not a record", 6)]

    def test_several_files_add_up(self, tmp_path: Path) -> None:
        """Keys from every --resume file count."""
        first, second = tmp_path / "1.ndjson", tmp_path / "2.ndjson"
        first.write_bytes(to_json(Record(key="a", status="uploaded")))
        second.write_bytes(to_json(Record(key="b", status="uploaded")))
        assert done_keys([str(first), str(second)]) == {"a", "b"}


class TestResumed:
    def test_a_resumed_result_keeps_the_record_and_is_stamped(self) -> None:
        """Every input field stays (a jq addition too); bucket, seconds and ts are put's."""
        record = Record(path="a.txt", key="a.txt", size=1, extra={"batch": 7})
        result = resumed(record, "b", 1700000000.1234567)
        assert result == record.evolve(
            status="skipped",
            reason="resumed",
            bytes=0,
            bucket="b",
            seconds=0.0,
            ts=1700000000.123457,
        )


class TestResuming:
    def test_done_keys_are_skipped_and_the_rest_uploaded(
        self, uploader: Uploader, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """A done key is answered at once as resumed and not sent; the others go up."""
        batch = [file_record(tmp_path / "old", b"old"), file_record(tmp_path / "new", b"new")]
        results: list[Record] = []
        run_put(uploader, iter([batch]), results.extend, jobs=2, lane=Resuming(uploader, {"old"}))
        by_key = {r.key: r for r in results}
        assert (by_key["old"].status, by_key["old"].reason, by_key["old"].bytes) == (
            "skipped",
            "resumed",
            0,
        )
        assert by_key["new"].status == "uploaded"
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        assert [item["Key"] for item in listed] == ["new"]

    def test_a_resumed_result_has_the_fields_of_any_skipped_result(
        self, uploader: Uploader, bucket: str, tmp_path: Path
    ) -> None:
        """bucket, seconds and ts, as put stamps a skip, so stat can time merged runs."""
        before = time.time()
        record = file_record(tmp_path / "old", b"old")
        result = Resuming(uploader, {"old"}).begin(record, lambda *_: None)
        uploader.close()
        assert isinstance(result, Record)
        assert result.status == "skipped"
        assert result.bucket == bucket
        assert result.seconds is not None
        assert result.seconds >= 0
        assert result.ts is not None
        assert before - 1 <= result.ts <= time.time() + 1

    def test_a_record_with_a_result_is_not_resumed(self, uploader: Uploader) -> None:
        """A failed record passes to the uploader, which passes a walk failure on as it is."""
        failed = Record(path="gone", key="old").failed("walk", "vanished")
        result = Resuming(uploader, {"old"}).begin(failed, lambda *_: None)
        uploader.close()
        assert result == failed


def test_the_one_command_writes_resumed_results_with_bucket_and_times(
    s3_env: dict[str, str], bucket: str, tmp_path: Path
) -> None:
    """End to end: the second run's resumed records carry bucket, seconds and ts."""
    site = tmp_path / "site"
    site.mkdir()
    for name in ("a.txt", "b.txt"):
        (site / name).write_text(name)
    first, second = tmp_path / "first.ndjson", tmp_path / "second.ndjson"
    for output, extra in ((first, []), (second, ["--resume", str(first)])):
        done = subprocess.run(
            ["s3pput", "--bucket", bucket, str(site), "-o", str(output), "--json", *extra],
            env=s3_env,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    resumed = [from_json(line) for line in second.read_bytes().splitlines()]
    keys_and_reasons = sorted((r.key, r.reason) for r in resumed)
    assert keys_and_reasons == [("a.txt", "resumed"), ("b.txt", "resumed")]
    assert all(r.bucket == bucket and r.seconds is not None and r.ts for r in resumed)
