"""Local ETags match what S3 computes, for single-part and multipart uploads."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from s3pput.put.etags import ETagDigest, candidate_part_sizes, split_etag


def reference_multipart_etag(data: bytes, part_size: int) -> str:
    """The textbook definition: MD5 of the concatenated part MD5s, dash, part count."""
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)] or [b""]
    joined = b"".join(hashlib.md5(p).digest() for p in parts)  # noqa: S324  # S3's ETag algorithm
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"  # noqa: S324  # S3's ETag algorithm


class TestETagDigest:
    @given(st.binary(max_size=5000), st.lists(st.integers(1, 700), max_size=6), st.integers(1, 900))
    def test_multipart_etag_matches_the_definition_however_the_bytes_arrive(
        self, data: bytes, cuts: list[int], part_size: int
    ) -> None:
        """Feeding in arbitrary chunks gives the same ETag as hashing the parts directly."""
        digest = ETagDigest([part_size])
        offset = 0
        for cut in cuts:
            digest.update(data[offset : offset + cut])
            offset += cut
        digest.update(data[offset:])
        assert digest.md5() == hashlib.md5(data).hexdigest()  # noqa: S324  # S3's ETag algorithm
        assert digest.multipart_etag(part_size) == reference_multipart_etag(data, part_size)


class TestEtagHelpers:
    def test_split_etag(self) -> None:
        """Quotes are dropped and the part count read from the suffix."""
        assert split_etag('"ABC-12"') == ("abc", 12)
        assert split_etag('"abc"') == ("abc", 0)

    def test_candidates_give_the_right_part_count(self) -> None:
        """Only part sizes that split the object into its number of parts are tried."""
        mib = 1 << 20
        assert candidate_part_sizes(20 * mib, 3, (8 * mib,)) == [8 * mib]
        assert 5 * mib in candidate_part_sizes(20 * mib, 4)
