"""Reading records in batches and writing them in batches keep every line, in order."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from s3pput import ndjson
from s3pput.records import Record, from_json, to_json

if TYPE_CHECKING:
    from typing_extensions import Buffer


def lines_file(tmp_path: Path, data: bytes) -> str:
    """A record file holding ``data``."""
    path = tmp_path / "records.ndjson"
    path.write_bytes(data)
    return str(path)


class TestReadRecordBatches:
    def test_every_line_once_in_order(self, tmp_path: Path) -> None:
        """5,000 records come out in order, in far fewer batches than records."""
        data = b"".join(to_json(Record(path=f"/f{n}", key=f"k{n}")) for n in range(5000))
        batches = list(ndjson.read_record_batches([lines_file(tmp_path, data)], "put"))
        keys = [r.key for batch in batches for r in batch]
        assert keys == [f"k{n}" for n in range(5000)]
        assert len(batches) < 50

    def test_bad_lines_keep_their_line_numbers(self, tmp_path: Path) -> None:
        """Blank lines count; CRLF is accepted; the last line needs no newline."""
        data = b'{"path":"/a"}\r\n\n{oops\n   \n{"path":"/b"}'
        source = lines_file(tmp_path, data)
        records = [r for batch in ndjson.read_record_batches([source], "put") for r in batch]
        assert [r.path for r in records] == ["/a", None, "/b"]
        assert records[1].status == "failed"
        assert records[1].line == 3
        assert records[1].raw == "{oops"

    def test_a_line_split_across_reads_is_whole(self) -> None:
        """A pipe delivers a line in two pieces: it is parsed once, whole."""
        read_end, write_end = os.pipe()
        line = to_json(Record(path="/x" * 50_000, key="long"))

        def writer() -> None:
            os.write(write_end, line[:1000])
            time.sleep(0.05)
            os.write(write_end, line[1000:])
            os.close(write_end)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            batches = list(
                ndjson._batches("-", read_end, "put", None)
            )  # the per-descriptor reader itself
        finally:
            thread.join()
            os.close(read_end)
        assert [r.key for batch in batches for r in batch] == ["long"]


class TestRecordWriter:
    def test_writes_in_batches_and_flushes_the_rest(self) -> None:
        """Many small records cost few writes; flush passes on the last ones."""

        class CountingStream(io.BytesIO):
            writes = 0

            def write(self, data: Buffer) -> int:
                self.writes += 1
                return super().write(data)

        stream = CountingStream()
        writer = ndjson.RecordWriter(stream, max_delay=60)
        for n in range(3000):
            writer.write(Record(path=f"/f{n}"))
        writer.flush()
        lines = stream.getvalue().splitlines()
        assert [from_json(line).path for line in lines] == [f"/f{n}" for n in range(3000)]
        assert stream.writes < 10

    def test_old_lines_are_written_when_the_next_record_comes(self) -> None:
        """A line held longer than max_delay goes out with the next record."""
        stream = io.BytesIO()
        writer = ndjson.RecordWriter(stream, max_delay=0.01)
        writer.write(Record(path="/a"))
        assert stream.getvalue() == b""
        time.sleep(0.02)
        writer.write(Record(path="/b"))
        assert len(stream.getvalue().splitlines()) == 2
