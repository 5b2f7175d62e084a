"""Skip-unchanged on the wire: a second run over a directory lists it once, and heads nothing."""

from __future__ import annotations

from pathlib import Path

from conftest import Tap

from s3pput.put.options import PutOptions
from s3pput.put.uploader import Uploader
from s3pput.records import Record
from s3pput.transport.clients import ClientOptions, make_client, make_putter


class TestRequestsOnTheWire:
    def test_second_run_lists_instead_of_heading(
        self, bucket: str, tap: Tap, tmp_path: Path
    ) -> None:
        """300 files in 3 directories: one LIST for the first run, one for the second."""
        records = []
        for d in range(3):
            for n in range(100):
                path = tmp_path / f"d{d}" / f"f{n}"
                path.parent.mkdir(exist_ok=True)
                path.write_bytes(f"{d}-{n}".encode())
                records.append(Record(path=str(path), key=f"p/d{d}/f{n}"))

        def uploader() -> Uploader:
            options = ClientOptions(endpoint_url=tap.url)
            client = make_client(options)
            putter = make_putter(options, client, part_size=8 << 20, multipart_threshold=8 << 20)
            return Uploader(client, putter, PutOptions(bucket=bucket))

        first = uploader()
        first.prefetch(records)  # as the driver does with each batch it reads
        assert {first.process(r).status for r in records} == {"uploaded"}
        first_requests = tap.sent()
        assert first_requests.count(b"list-type=2") == 1  # p/, a new tree, empty
        assert first_requests.count(b"list-type=2&prefix=p%2F&encoding-type=url") == 1
        second_run = uploader()
        second_run.prefetch(records)
        assert {second_run.process(r).status for r in records} == {"skipped"}
        second = tap.sent()[len(first_requests) :]
        assert second.count(b"list-type=2") == 1  # p/ again: 300 keys on one page
        assert second.count(b"delimiter=") == 0
        assert second.count(b"HEAD ") == 0
        assert second.count(b"PUT ") == 0
