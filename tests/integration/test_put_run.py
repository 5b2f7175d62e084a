"""The put loop as the commands run it, driven directly: batches in, one result per record out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from s3pput.errors import BucketError
from s3pput.put.options import PutOptions
from s3pput.put.run import (
    RunOptions,
    Stopped,
    make_uploader,
    put_all,
    read_input,
    run_put,
    sends_nothing,
    usable_bucket,
)
from s3pput.put.uploader import Uploader
from s3pput.records import Record
from s3pput.sandbox.local_s3 import LocalS3
from s3pput.transport.clients import ClientOptions


def options_for(server: LocalS3, bucket: str, **put: Any) -> RunOptions:
    """What the command line would build for a run against the test server."""
    return RunOptions(
        put=PutOptions(bucket=bucket, **put),
        client=ClientOptions(endpoint_url=server.endpoint_url),
        jobs=4,
        files=(),
        cache=None,
    )


def file_record(path: Path, data: bytes, key: str | None = None) -> Record:
    """Create a file and the record walk would write for it."""
    path.write_bytes(data)
    return Record(path=str(path), key=key or path.name, size=len(data))


def collect(into: list[Record]) -> Any:
    """An ``emit`` that keeps every batch of results."""
    return into.extend


@pytest.fixture(name="uploader")
def fixture_uploader(s3_server: LocalS3, bucket: str) -> Uploader:
    """An uploader for the test bucket, built as s3pput-put builds it; closed by the run."""
    return make_uploader(options_for(s3_server, bucket))


class TestRunPut:
    def test_every_record_has_one_result_and_the_bytes_land(
        self, uploader: Uploader, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Two batches of three files: three uploaded results, three objects, a clean outcome."""
        batches = [
            [file_record(tmp_path / "a", b"a"), file_record(tmp_path / "b", b"bb")],
            [file_record(tmp_path / "c", b"ccc")],
        ]
        results: list[Record] = []
        outcome = run_put(uploader, iter(batches), collect(results), jobs=4)
        assert (outcome.ended, outcome.failed) == ("finished", 0)
        assert sorted((r.key, r.status, r.bucket) for r in results) == [
            ("a", "uploaded", bucket),
            ("b", "uploaded", bucket),
            ("c", "uploaded", bucket),
        ]
        stored = {
            key: s3.get_object(Bucket=bucket, Key=key)["Body"].read() for key in ("a", "b", "c")
        }
        assert stored == {"a": b"a", "b": b"bb", "c": b"ccc"}

    def test_a_failed_record_is_counted_and_the_run_goes_on(
        self, uploader: Uploader, tmp_path: Path
    ) -> None:
        """A file that is not there fails on its own; the outcome counts it."""
        batch = [Record(path=str(tmp_path / "gone"), key="gone"), file_record(tmp_path / "x", b"x")]
        results: list[Record] = []
        outcome = run_put(uploader, iter([batch]), collect(results), jobs=2)
        assert (outcome.ended, outcome.failed) == ("finished", 1)
        by_key = {r.key: r for r in results}
        assert by_key["gone"].status == "failed"
        assert "No such file or directory" in (by_key["gone"].error or "")
        assert by_key["x"].status == "uploaded"

    def test_a_reader_that_went_away_ends_the_run_as_output_closed(
        self, uploader: Uploader, tmp_path: Path
    ) -> None:
        """An ``emit`` that meets a closed pipe stops the run; nothing it held is lost silently."""

        def closed(results: list[Record]) -> None:
            del results
            raise BrokenPipeError

        # Files that are not there fail without a request: no upload outlives the test.
        batch = [Record(path=str(tmp_path / f"gone{n}"), key=f"gone{n}") for n in range(3)]
        outcome = run_put(uploader, iter([batch]), closed, jobs=2)
        assert outcome.ended == "output closed"
        assert outcome.unreported == len(batch)


class TestPutAll:
    def test_a_missing_bucket_stops_the_run_before_a_record_is_read(
        self, s3_server: LocalS3, s3_env: dict[str, str]
    ) -> None:
        """BucketError comes first; the input is never touched."""
        del s3_env
        read: list[bool] = []

        def batches() -> Iterator[list[Record]]:
            read.append(True)
            yield [Record(path="/nonexistent", key="k")]

        uploader = make_uploader(options_for(s3_server, "no-such-bucket-for-put-all"))
        with pytest.raises(BucketError, match="NoSuchBucket"):
            put_all(uploader, batches(), collect([]), jobs=2)
        assert read == []

    def test_a_usable_bucket_is_checked_then_every_record_put(
        self, uploader: Uploader, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """The whole s3pput-put run, as an iterator of batches and a list of results."""
        results: list[Record] = []
        outcome = put_all(
            uploader, iter([[file_record(tmp_path / "one", b"1")]]), collect(results), jobs=2
        )
        assert outcome.ended == "finished"
        assert [(r.key, r.status) for r in results] == [("one", "uploaded")]
        assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"1"


class TestStopped:
    def test_a_run_stopped_before_it_began_answers_every_record_interrupted(
        self, uploader: Uploader, s3: Any, bucket: str, tmp_path: Path
    ) -> None:
        """Ctrl-C during the bucket check: each record still gets one result; none is sent."""
        batch = [file_record(tmp_path / "a", b"a"), file_record(tmp_path / "b", b"b")]
        results: list[Record] = []
        outcome = run_put(uploader, iter([batch]), collect(results), jobs=2, lane=Stopped(uploader))
        assert outcome.failed == len(batch)
        assert sorted((r.key, r.status, r.error, r.bucket) for r in results) == [
            ("a", "failed", "interrupted", bucket),
            ("b", "failed", "interrupted", bucket),
        ]
        assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


class TestReadInput:
    def test_record_files_become_batches_with_duplicates_and_unusable_records_failed(
        self, tmp_path: Path
    ) -> None:
        """What put reads: the first record for a key wins; a record it cannot send says why."""
        lines = [
            {"path": "d1/x.txt", "key": "x.txt"},
            {"path": "d2/x.txt", "key": "x.txt"},
            {"key": "only-a-key"},
            {"path": "y.txt"},
        ]
        records_file = tmp_path / "in.ndjson"
        records_file.write_text("".join(json.dumps(line) + "\n" for line in lines) + "not json\n")
        read = [
            r for batch in read_input([str(records_file)], PutOptions(bucket="b")) for r in batch
        ]
        assert [(r.path, r.status) for r in read] == [
            ("d1/x.txt", None),
            ("d2/x.txt", "failed"),
            (None, "failed"),
            ("y.txt", None),
            (None, "failed"),
        ]
        assert read[1].error == "duplicate key (also from d1/x.txt)"
        assert read[2].error is not None
        assert read[2].error.endswith(
            "record has no path (nor path_b64), nor source_bucket and source_key"
        )
        assert (read[4].line, read[4].raw) == (5, "not json")


class TestSendsNothing:
    def test_only_a_dry_run_of_stupid_needs_no_s3(self) -> None:
        """A dry run of update or add still lists the bucket; stupid for real sends."""
        assert sends_nothing(PutOptions(bucket="b", mode="stupid", dry_run=True))
        assert not sends_nothing(PutOptions(bucket="b", mode="update", dry_run=True))
        assert not sends_nothing(PutOptions(bucket="b", mode="add", dry_run=True))
        assert not sends_nothing(PutOptions(bucket="b", mode="stupid"))

    def test_such_a_run_asks_nothing_of_a_missing_bucket(
        self, s3_server: LocalS3, s3_env: dict[str, str]
    ) -> None:
        """The bucket check is skipped: no BucketError, and each record is planned."""
        del s3_env
        options = options_for(s3_server, "no-such-bucket-dry", mode="stupid", dry_run=True)
        uploader = make_uploader(options)
        usable_bucket(uploader, options.put)
        results: list[Record] = []
        put_all(uploader, iter([[Record(path=__file__, key="k")]]), collect(results), jobs=1)
        assert [(r.key, r.status) for r in results] == [("k", "planned")]
