"""Skip-unchanged asks S3 once per directory, not once per key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from conftest import Tap

from s3pput.listing import DirectoryIndex, Listed, ListingUnavailableError, parent_prefix
from s3pput.put import PutOptions, Uploader
from s3pput.records import Record
from s3pput.s3 import ClientOptions, make_client, make_putter


class FakeStore:
    """A dict of keys standing in for a bucket, counting the questions asked of it."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys
        self.lists: list[str] = []
        self.heads: list[str] = []

    def list_directory(self, prefix: str) -> Iterator[Listed]:
        """List the keys directly under prefix, like a LIST with delimiter "/"."""
        self.lists.append(prefix)
        time.sleep(0.01)  # long enough for concurrent askers to pile up
        for key, etag in sorted(self.keys.items()):
            if key.startswith(prefix) and "/" not in key[len(prefix) :]:
                yield Listed(key, etag, 1)

    def head(self, key: str) -> dict[str, Any] | None:
        """Answer like a HEAD request."""
        self.heads.append(key)
        return {"ETag": f'"{self.keys[key]}"', "ContentLength": 1} if key in self.keys else None


class TestParentPrefix:
    def test_directory_part(self) -> None:
        """The prefix is everything up to and including the last slash."""
        assert parent_prefix("a/b/c.txt") == "a/b/"
        assert parent_prefix("top.txt") == ""


class TestDirectoryIndex:
    def test_one_listing_answers_a_whole_directory(self) -> None:
        """Keys of one directory cost one LIST and no HEAD."""
        store = FakeStore({"d/a": "1", "d/b": "2", "d/sub/c": "3"})
        index = DirectoryIndex(store.list_directory, store.head)
        assert index.lookup("d/a") == {"ETag": '"1"', "ContentLength": 1}
        assert index.lookup("d/b") is not None
        assert index.lookup("d/missing") is None
        assert index.lookup("d/sub/c") is not None
        assert store.lists == ["d/", "d/sub/"]
        assert store.heads == []

    def test_concurrent_questions_share_one_listing(self) -> None:
        """Eight threads asking about one directory at once cause one LIST."""
        store = FakeStore({f"d/{n}": str(n) for n in range(8)})
        index = DirectoryIndex(store.list_directory, store.head)
        threads = [threading.Thread(target=index.lookup, args=(f"d/{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert store.lists == ["d/"]

    def test_huge_directories_fall_back_to_head(self) -> None:
        """A directory over the size cap is not kept; each key is HEADed instead."""
        store = FakeStore({f"d/{n}": str(n) for n in range(10)})
        index = DirectoryIndex(store.list_directory, store.head, max_entries=5)
        assert index.lookup("d/7") == {"ETag": '"7"', "ContentLength": 1}
        assert index.lookup("d/8") is not None
        assert store.heads == ["d/7", "d/8"]
        assert store.lists == ["d/"]

    def test_denied_listing_falls_back_to_head(self) -> None:
        """Without permission to list, keys are still answered, one HEAD each."""
        store = FakeStore({"d/a": "1"})

        def denied(prefix: str) -> Iterator[Listed]:
            del prefix
            raise ListingUnavailableError
            yield  # a generator, like the real one

        index = DirectoryIndex(denied, store.head)
        assert index.lookup("d/a") is not None
        assert store.heads == ["d/a"]

    def test_own_writes_are_seen(self) -> None:
        """A key this run uploaded is found by the next question, without a new LIST."""
        store = FakeStore({})
        index = DirectoryIndex(store.list_directory, store.head)
        assert index.lookup("d/new") is None
        index.remember("d/new", "abc", 3)
        assert index.lookup("d/new") == {"ETag": '"abc"', "ContentLength": 3}
        assert store.lists == ["d/"]

    def test_memory_holds_only_recent_directories(self) -> None:
        """Old directories are forgotten, so memory does not grow with the tree."""
        store = FakeStore({f"d{n}/k": "1" for n in range(5)})
        index = DirectoryIndex(store.list_directory, store.head, max_directories=2)
        for n in range(5):
            index.lookup(f"d{n}/k")
        index.lookup("d0/k")
        assert store.lists == ["d0/", "d1/", "d2/", "d3/", "d4/", "d0/"]


class TestRequestsOnTheWire:
    def test_second_run_lists_instead_of_heading(
        self, bucket: str, tap: Tap, tmp_path: Path
    ) -> None:
        """Re-running 300 unchanged files in 3 directories sends 3 LISTs and no HEAD."""
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
        assert {first.process(r).status for r in records} == {"uploaded"}
        before = len(tap.sent())
        second_run = uploader()
        assert {second_run.process(r).status for r in records} == {"skipped"}
        second = tap.sent()[before:]
        assert second.count(b"list-type=2") == 3
        assert second.count(b"HEAD ") == 0
        assert second.count(b"PUT ") == 0
