"""A multipart upload's plan: part sizes, ranges, the completion, the record that resumes it.

The runs that stop an upload and resume it against a server are in
e2e/test_resume.py.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

from hypothesis import given
from hypothesis import strategies as st

from s3pput.put.parts import Part, choose_part_size, complete_body, part_ranges
from s3pput.records import Record, from_json, to_json
from s3pput.units import MAX_PART, MAX_PARTS

MiB = 1 << 20
TiB = 1 << 40


def test_part_size_grows_so_five_tib_fits_in_ten_thousand_parts() -> None:
    """The asked part size, unless S3's 10,000 parts or its 5 MiB to 5 GiB bounds say otherwise."""
    assert choose_part_size(1024 * MiB, 8 * MiB) == 8 * MiB
    assert choose_part_size(100 * MiB, 1 * MiB) == 5 * MiB  # S3's smallest part
    huge = choose_part_size(5 * TiB, 8 * MiB)
    assert huge % MiB == 0
    assert -(-5 * TiB // huge) <= MAX_PARTS
    assert -(-5 * TiB // (huge - MiB)) > MAX_PARTS  # no bigger than it must be
    assert choose_part_size(5 * TiB, 10 * 1024 * MiB) == MAX_PART


def test_part_ranges_cover_the_file_once() -> None:
    """Parts are contiguous, the last one short; an empty file is one empty part."""
    ranges = part_ranges(20 * MiB + 1, 8 * MiB)
    assert ranges == [(1, 0, 8 * MiB), (2, 8 * MiB, 8 * MiB), (3, 16 * MiB, 4 * MiB + 1)]
    assert part_ranges(0, 8 * MiB) == [(1, 0, 0)]


def test_the_completion_lists_parts_in_order_with_their_checksums() -> None:
    """Sorted by number, ETags quoted and escaped, a checksum only where known."""
    body = complete_body([Part(2, "b<", "Y=="), Part(1, "a", None)], "crc32c")
    assert body == (
        b"<CompleteMultipartUpload>"
        b"<Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;</ETag></Part>"
        b"<Part><PartNumber>2</PartNumber><ETag>&quot;b&lt;&quot;</ETag>"
        b"<ChecksumCRC32C>Y==</ChecksumCRC32C></Part>"
        b"</CompleteMultipartUpload>"
    )


def test_a_record_keeps_its_upload_fields_through_json() -> None:
    """upload_id and part_size are input: a replay keeps them while it drops the old result."""
    record = Record(path="a", upload_id="x/y", part_size=5 * MiB, status="failed")
    line = to_json(record)
    assert json.loads(line)["upload_id"] == "x/y"
    again = from_json(line).cleared()
    assert (again.upload_id, again.part_size, again.status) == ("x/y", 5 * MiB, None)


@given(st.text(min_size=1))
def test_the_completion_escapes_as_the_standard_library_does(text: str) -> None:
    """Any ETag or checksum text is escaped exactly as xml.sax.saxutils.escape would."""
    body = complete_body([Part(1, text, text)], "sha256").decode()
    assert body == (
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
        f"<ETag>&quot;{escape(text)}&quot;</ETag>"
        f"<ChecksumSHA256>{escape(text)}</ChecksumSHA256></Part></CompleteMultipartUpload>"
    )
