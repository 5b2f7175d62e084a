"""--compare size and size-mtime decide from what a listing or HEAD says, to the second."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from s3pput.put.unchanged import same_by_metadata


def stat_at(tmp_path: Path, size: int, mtime: float) -> os.stat_result:
    """The stat of a file of ``size`` bytes last modified at ``mtime``."""
    path = tmp_path / "f"
    path.write_bytes(b"x" * size)
    os.utime(path, (mtime, mtime))
    return path.stat()


NOON = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC).timestamp()


class TestSameByMetadata:
    def test_size_alone(self, tmp_path: Path) -> None:
        """size: equal sizes are enough, whatever the dates."""
        local = stat_at(tmp_path, 4, NOON + 3600)
        assert same_by_metadata({"ContentLength": 4}, local, "size")
        assert not same_by_metadata({"ContentLength": 5}, local, "size")

    def test_listing_dates_are_iso_text_with_z(self, tmp_path: Path) -> None:
        """size-mtime reads a listing's LastModified, and a file newer than it is changed."""
        head = {"ContentLength": 4, "LastModified": "2026-11-26T12:00:00.000Z"}
        assert same_by_metadata(head, stat_at(tmp_path, 4, NOON - 60), "size-mtime")
        assert not same_by_metadata(head, stat_at(tmp_path, 4, NOON + 60), "size-mtime")

    def test_the_same_second_counts_as_not_newer(self, tmp_path: Path) -> None:
        """A file written in the second of its upload is not newer than its object (kept to s)."""
        head = {"ContentLength": 4, "LastModified": "2026-11-26T12:00:00Z"}
        assert same_by_metadata(head, stat_at(tmp_path, 4, NOON + 0.7), "size-mtime")

    def test_head_dates_are_datetimes(self, tmp_path: Path) -> None:
        """A HEAD's LastModified (a datetime, as boto3 gives it) works the same way."""
        head = {"ContentLength": 4, "LastModified": datetime.fromtimestamp(NOON, UTC)}
        assert same_by_metadata(head, stat_at(tmp_path, 4, NOON - 1), "size-mtime")

    def test_no_date_means_changed(self, tmp_path: Path) -> None:
        """Without a LastModified nothing proves the object is as new: upload."""
        local = stat_at(tmp_path, 4, NOON)
        assert not same_by_metadata({"ContentLength": 4, "LastModified": ""}, local, "size-mtime")
        assert not same_by_metadata({"ContentLength": 4}, local, "size-mtime")
