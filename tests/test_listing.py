"""Skip-unchanged asks S3 once per directory, not once per key."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Tap

from s3pput.listing import (
    DirectoryIndex,
    Listed,
    ListingUnavailableError,
    Subdirectory,
    ancestors,
    parent_prefix,
)
from s3pput.put import PutOptions, Uploader
from s3pput.records import Record
from s3pput.s3 import ClientOptions, make_client, make_putter


class FakeStore:
    """A dict of keys standing in for a bucket, counting the questions asked of it."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys
        self.lists: list[str] = []
        self.heads: list[str] = []
        self.trees: list[str] = []

    def list_directory(self, prefix: str) -> Iterator[Listed | Subdirectory]:
        """List the keys and subdirectories directly under prefix, like a LIST with "/"."""
        self.lists.append(prefix)
        time.sleep(0.01)  # long enough for concurrent askers to pile up
        subdirectories = set()
        for key, etag in sorted(self.keys.items()):
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix) :]
            if "/" in rest:
                subdirectories.add(prefix + rest[: rest.index("/") + 1])
            else:
                yield Listed(key, etag, 1)
        yield from (Subdirectory(p) for p in sorted(subdirectories))

    def list_tree(self, prefix: str) -> Iterator[Listed]:
        """List every key under prefix, like a LIST without delimiter."""
        self.trees.append(prefix)
        for key, etag in sorted(self.keys.items()):
            if key.startswith(prefix):
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

    def test_ancestors_outermost_first(self) -> None:
        """The directories above a directory, not itself, outermost first."""
        assert ancestors("a/b/c/") == ["a/", "a/b/"]
        assert ancestors("a/") == []
        assert ancestors("") == []


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

    def test_a_new_tree_costs_one_listing(self) -> None:
        """Uploading into a prefix that holds nothing: one tree listing answers everything."""
        store = FakeStore({"other/x": "1"})
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        keys = [f"new/{d}/f" for d in ["a", "a/b", "c", "c/d/e"]]
        index.hint(keys)
        for key in keys:
            assert index.lookup(key) is None
        assert store.trees == ["new/"]
        assert store.lists == []

    def test_without_a_hint_each_directory_is_a_tree(self) -> None:
        """Unhinted, a key's own directory is listed as a tree, which covers those below it."""
        store = FakeStore({"other/x": "1"})
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        for directory in ["new/a/", "new/a/b/", "new/c/", "new/c/d/e/"]:
            assert index.lookup(f"{directory}f") is None
        assert store.trees == ["new/a/", "new/c/"]

    def test_no_hint_for_the_top_of_the_bucket(self) -> None:
        """Keys with nothing in common start no listing of the whole bucket."""
        store = FakeStore({"a/x": "1", "b/y": "2"})
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        index.hint(["a/x", "b/y"])
        assert index.lookup("a/x") is not None
        assert store.trees == ["a/"]

    def test_a_small_tree_is_listed_once(self) -> None:
        """Every key under a prefix, at any depth, from one tree listing."""
        store = FakeStore(
            {
                f"p/d{d}/s{s}/k{k}": f"{d}{s}{k}"
                for d in range(3)
                for s in range(3)
                for k in range(3)
            }
        )
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        index.hint(list(store.keys))
        for key, etag in store.keys.items():
            assert index.lookup(key) == {"ETag": f'"{etag}"', "ContentLength": 1}
            assert index.lookup(key + "-missing") is None
        assert index.lookup("p/elsewhere/k") is None
        assert store.trees == ["p/"]
        assert store.lists == []

    def test_a_big_tree_falls_back_to_smaller_ones_then_directories(self) -> None:
        """Over the limit a tree still answers for what it listed; past that, the next level."""
        store = FakeStore({f"p/d{d}/k{k}": "1" for d in range(3) for k in range(4)})
        index = DirectoryIndex(
            store.list_directory, store.head, list_tree=store.list_tree, tree_limit=5
        )
        index.hint(["p/d0/k0", "p/d2/k3"])
        assert index.lookup("p/d1/k2") is not None  # past p/'s first 5 keys: p/d1/ as a tree
        assert index.lookup("p/d1/k9") is None
        assert index.lookup("p/d0/k1") is not None  # among p/'s first 5 keys
        assert store.trees == ["p/", "p/d1/"]
        assert store.lists == []
        index = DirectoryIndex(
            store.list_directory, store.head, list_tree=store.list_tree, tree_limit=3
        )
        assert index.lookup("p/d2/k3") is not None  # neither p/ nor p/d2/ gets that far
        assert store.lists == ["p/d2/"]

    def test_an_answer_comes_before_the_listing_ends(self) -> None:
        """A key on the first page is answered while later pages are still coming."""
        release = threading.Event()

        def slow_tree(prefix: str) -> Iterator[Listed]:
            yield Listed(f"{prefix}a", "1", 1)
            release.wait(10)
            yield Listed(f"{prefix}z", "2", 1)

        index = DirectoryIndex(lambda _: iter(()), lambda _: None, list_tree=slow_tree)
        try:
            assert index.lookup("p/a") == {"ETag": '"1"', "ContentLength": 1}
            assert index.lookup("p/0") is None  # sorts before "p/a": known absent
        finally:
            release.set()
        assert index.lookup("p/z") is not None

    def test_own_writes_are_seen_in_a_tree(self) -> None:
        """A key this run uploaded under a tree is found without a new listing."""
        store = FakeStore({})
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        assert index.lookup("t/a/k") is None
        index.remember("t/a/k", "abc", 3)
        assert index.lookup("t/a/k") == {"ETag": '"abc"', "ContentLength": 3}
        assert store.trees == ["t/a/"]

    def test_listed_subdirectories_answer_for_empty_ones(self) -> None:
        """A listing names the subdirectories that hold anything; the others need no request."""
        store = FakeStore({"d/a": "1", "d/full/b": "2"})
        index = DirectoryIndex(store.list_directory, store.head)
        assert index.lookup("d/a") is not None
        assert index.lookup("d/empty/x") is None
        assert index.lookup("d/full/b") == {"ETag": '"2"', "ContentLength": 1}
        assert store.lists == ["d/", "d/full/"]

    def test_a_failed_tree_listing_is_reported_and_tried_again(self) -> None:
        """A tree listing that fails raises to the asker; the next question lists again."""
        store = FakeStore({"p/d/a": "1"})
        failures = [OSError("network down")]

        def flaky(prefix: str) -> Iterator[Listed]:
            if failures:
                raise failures.pop()
            yield from store.list_tree(prefix)

        index = DirectoryIndex(store.list_directory, store.head, list_tree=flaky)
        with pytest.raises(OSError, match="network down"):
            index.lookup("p/d/a")
        assert index.lookup("p/d/a") is not None
        assert store.trees == ["p/d/"]

    def test_memory_is_bounded_by_keys_kept(self) -> None:
        """Listings are forgotten, oldest first, once they hold more keys than the limit."""
        store = FakeStore({f"d{n}/k{m}": "1" for n in range(4) for m in range(3)})
        index = DirectoryIndex(store.list_directory, store.head, max_entries=7)
        for n in range(4):
            index.lookup(f"d{n}/k0")
        index.lookup("d2/k0")
        index.lookup("d0/k0")
        assert store.lists == ["d0/", "d1/", "d2/", "d3/", "d0/"]

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
        first.prefetch(records)  # as the engine does with each batch it reads
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
