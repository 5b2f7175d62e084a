"""Skip-unchanged asks S3 once per directory, not once per key."""

from __future__ import annotations

import bisect
import itertools
import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from s3pput.errors import ListingUnavailableError
from s3pput.put.bucket_index import DirectoryIndex
from s3pput.put.index_listings import ancestors, parent_prefix
from s3pput.put.index_window import just_below
from s3pput.transport.listed import Listed, Subdirectory


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


PAGE = 1000
"""Entries a fake list request returns, as S3 does."""


class PagedStore:
    """One directory listed like ListObjectsV2 with "/": pages of 1,000, each counted.

    Each page is its objects, then its subdirectories (CommonPrefixes), as
    the native client yields them; ``fail_pages`` names page numbers (1 for
    the first) that raise once instead.
    """

    def __init__(self, prefix: str, names: list[str], *, delay: float = 0.0) -> None:
        self.prefix = prefix
        self.entries = sorted(prefix + name for name in names)
        self.objects = {e: f"e-{e}" for e in self.entries if not e.endswith("/")}
        self.delay = delay
        self.pages = 0
        self.starts: list[str] = []
        self.heads: list[str] = []
        self.fail_pages: set[int] = set()
        self.lock = threading.Lock()

    def list_after(self, prefix: str, start_after: str) -> Iterator[Listed | Subdirectory]:
        """The entries directly under ``prefix`` past ``start_after``, a page per request."""
        assert prefix == self.prefix
        self.starts.append(start_after)
        position = bisect.bisect_right(self.entries, start_after) if start_after else 0
        while True:
            with self.lock:
                self.pages += 1
                failing = self.pages in self.fail_pages
                self.fail_pages.discard(self.pages)
            time.sleep(self.delay)
            if failing:
                raise OSError("network down")
            page = self.entries[position : position + PAGE]
            yield from (Listed(e, self.objects[e], 1) for e in page if e in self.objects)
            yield from (Subdirectory(e) for e in page if e not in self.objects)
            position += len(page)
            if position >= len(self.entries):
                return

    def list_directory(self, prefix: str) -> Iterator[Listed | Subdirectory]:
        """The whole directory, as the index lists a directory it may keep."""
        return self.list_after(prefix, "")

    def head(self, key: str) -> dict[str, Any] | None:
        """Answer like a HEAD request."""
        with self.lock:
            self.heads.append(key)
        etag = self.objects.get(key)
        return None if etag is None else {"ETag": f'"{etag}"', "ContentLength": 1}

    def index(self, *, keep: int = 2_000) -> DirectoryIndex:
        """An index that keeps 1,000 keys at most, so this directory is too big to keep."""
        return DirectoryIndex(
            self.list_directory,
            self.head,
            list_after=self.list_after,
            max_entries=1_000,
            window_keys=keep,
        )

    def expected(self, key: str) -> dict[str, Any] | None:
        """What a lookup of ``key`` must say."""
        etag = self.objects.get(key)
        return None if etag is None else {"ETag": f'"{etag}"', "ContentLength": 1}


def big_directory(count: int, *, delay: float = 0.0) -> tuple[PagedStore, list[str]]:
    """A store with one directory of ``count`` files (and a few subdirectories); its keys."""
    names = [f"f{n:06d}" for n in range(count)] + ["f000500/", "f010000-sub/", "zz/"]
    store = PagedStore("big/", names, delay=delay)
    return store, sorted(store.objects)


def ask_all(index: DirectoryIndex, keys: list[str]) -> None:
    """Look up every key in turn."""
    for key in keys:
        index.lookup(key)


LOAD_PAGES = 2
"""Pages the index reads (1,001 objects) before it knows the directory is too big to keep."""


class TestJustBelow:
    def test_sorts_just_below(self) -> None:
        """Below the key, and above every key that sorts below it in practice."""
        for key in ["d/f1a", "d/a", "d/\u00e9", "d/\U0001f600", "d/1"]:
            start = just_below(key)
            assert start < key
            assert start > key[:-1] + chr(ord(key[-1]) - 1) + "\uffff"
            assert start.encode("utf-8") < key.encode("utf-8")  # S3's order agrees

    def test_never_names_a_subdirectory(self) -> None:
        """Below "0" is "/": the start takes "." instead, passing only the subdirectory d/f1/."""
        start = just_below("d/f10")
        assert "/" not in start.removeprefix("d/")
        assert "d/f1.\uffff" < start < "d/f1/"

    def test_no_surrogates(self) -> None:
        """Below U+E000 comes the last character before the surrogates: still valid UTF-8."""
        assert just_below("d/\ue000") == "d/\ud7ff\U0010ffff"
        assert just_below("d/\ue000").encode("utf-8") < "d/\ue000".encode()

    def test_no_other_key_of_a_directory_between(self) -> None:
        """Restarting a listing just below "d/f10" does not list "d/f1.txt" or "d/f1-a"."""
        start = just_below("d/f10")
        assert start > "d/f1.txt"
        assert start > "d/f1-a"

    def test_a_key_at_the_length_limit(self) -> None:
        """A start that would pass S3's key length falls back to the key less its last character."""
        key = "d/" + "a" * 1022
        assert just_below(key) == key[:-1]


class TestBigDirectoryWindow:
    def test_in_order_costs_a_page_per_thousand_keys(self) -> None:
        """50,000 unchanged keys asked in order: about 50 list pages, no HEAD, memory bounded."""
        store, keys = big_directory(50_000)
        index = store.index(keep=2_000)
        held = 0
        for key in keys:
            assert index.lookup(key) == store.expected(key)
            held = max(held, *(len(window) for window in index._windows.values()))
        assert store.heads == []
        assert store.pages == 51  # 50,003 entries: nothing listed twice, the load included
        assert held <= 2_000 + 2_000 // 4
        assert index.window_lists == 1
        assert index.window_reads <= 50_003

    def test_workers_reordering_a_little_are_answered_from_the_window(self) -> None:
        """Eight threads asking in an order shuffled 32 keys at a time: no HEAD, one listing."""
        store, keys = big_directory(20_000, delay=0.002)
        rng = random.Random(6)  # noqa: S311  # a fixed shuffle, not a secret
        jittered: list[str] = []
        for start in range(0, len(keys), 32):
            block = keys[start : start + 32]
            rng.shuffle(block)
            jittered += block
        index = store.index()
        asked = iter(jittered)
        lock = threading.Lock()
        wrong: list[str] = []

        def worker() -> None:
            while True:
                with lock:
                    key = next(asked, None)
                if key is None:
                    return
                if index.lookup(key) != store.expected(key):
                    wrong.append(key)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert wrong == []
        assert store.heads == []
        assert store.pages <= LOAD_PAGES + 20 + 1
        assert index.window_lists == 1

    def test_a_sparse_input_costs_few_lists_per_key(self) -> None:
        """Every 5,000th key: each costs at most three list pages (read on, then a jump)."""
        store, keys = big_directory(50_000)
        index = store.index()
        sparse = keys[::5_000]
        for key in sparse:
            assert index.lookup(key) == store.expected(key)
        assert store.heads == []
        assert store.pages - LOAD_PAGES <= 3 * len(sparse)
        jumps = store.starts[1:]  # after the load, which the window goes on with
        assert jumps == [just_below(key) for key in sparse[1:]]

    def test_keys_of_earlier_jumps_are_still_answered(self) -> None:
        """A worker asking again about a sparse key after the listing jumped on: no HEAD."""
        store, keys = big_directory(50_000)
        index = store.index()
        sparse = keys[::5_000]
        for before, key in itertools.pairwise(sparse):
            assert index.lookup(key) == store.expected(key)  # the driver, ahead
            assert index.lookup(before) == store.expected(before)  # a worker, behind
        assert store.heads == []

    def test_a_window_costing_more_than_it_saves_gives_up(self) -> None:
        """Every 2,000th key (a jump each): after a few, HEAD instead of listing."""
        store, keys = big_directory(100_000)
        index = store.index()
        sparse = keys[::2_000]
        for key in sparse:
            assert index.lookup(key) == store.expected(key)
        assert [window.given_up for window in index._windows.values()] == [True]
        assert store.pages - LOAD_PAGES <= 3 * 20
        assert len(store.heads) >= len(sparse) - 20

    def test_keys_asked_in_no_order_cost_few_listings(self) -> None:
        """Random questions: most are behind the window and HEADed; few pages are listed."""
        store, keys = big_directory(50_000)
        index = store.index()
        asked = random.Random(7).sample(keys, 500)  # noqa: S311  # a fixed sample, not a secret
        for key in asked:
            assert index.lookup(key) == store.expected(key)
        assert store.pages <= 100
        assert len(store.heads) >= 400

    def test_absent_keys_are_answered_without_head(self) -> None:
        """Keys between listed ones, and past the last, are known to be absent."""
        store, keys = big_directory(3_000)
        index = store.index()
        for key in keys[:2_500]:
            assert index.lookup(key) is not None
            assert index.lookup(key + "-new") is None
        assert index.lookup("big/zzz") is None
        assert index.lookup("big/zz") is None  # only a subdirectory by that name
        assert store.heads == []

    def test_keys_this_run_wrote_are_seen(self) -> None:
        """A key uploaded after the window listed past it is found, without a new listing."""
        store, keys = big_directory(3_000)
        index = store.index()
        assert index.lookup(keys[10]) is not None
        assert index.lookup("big/f000010-new") is None
        index.remember("big/f000010-new", "abc", 3)
        pages = store.pages
        assert index.lookup("big/f000010-new") == {"ETag": '"abc"', "ContentLength": 3}
        assert store.pages == pages
        assert store.heads == []

    def test_a_key_left_behind_is_headed(self) -> None:
        """A key the window has forgotten costs a HEAD, not a listing from the start."""
        store, keys = big_directory(5_000)
        index = store.index(keep=1_000)
        for key in keys[:4_000]:
            index.lookup(key)
        starts = len(store.starts)
        assert index.lookup(keys[5]) == store.expected(keys[5])
        assert store.heads == [keys[5]]
        assert len(store.starts) == starts

    def test_a_failed_listing_is_reported_then_resumed(self) -> None:
        """A page that fails raises to the asker; the next question lists on from where it was."""
        store, keys = big_directory(5_000)
        store.fail_pages = {LOAD_PAGES + 1}  # the first page past the load
        index = store.index()
        with pytest.raises(OSError, match="network down"):
            ask_all(index, keys)
        for key in keys:
            assert index.lookup(key) == store.expected(key)
        assert store.heads == []
        assert len(store.starts) == 2  # the load (the window went on with it), then resumed
        assert store.starts[1] > keys[1_500]

    def test_an_error_reaches_the_questions_waiting_on_it(self) -> None:
        """Threads waiting on the page that fails get its error too, not a listing each."""
        store, keys = big_directory(5_000, delay=0.05)
        index = store.index()
        assert index.lookup(keys[0]) is not None
        store.fail_pages = {store.pages + 1}
        errors: list[BaseException] = []

        def ask(key: str) -> None:
            try:
                index.lookup(key)
            except OSError as exc:
                errors.append(exc)

        threads = [threading.Thread(target=ask, args=(keys[2_500 + n],)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(errors) == 4
        assert len(store.starts) == 1  # the load, which the window went on with: no other

    def test_denied_listing_falls_back_to_head(self) -> None:
        """A store that will not list from a key: what the window cannot read on to is HEADed.

        The listing the index began goes on, as far as questions go in
        order; a key far ahead needs a listing from that key, which is
        refused, and from then on every key of the directory is HEADed.
        """
        store, keys = big_directory(3_000)

        def denied(prefix: str, start_after: str) -> Iterator[Listed]:
            del prefix, start_after
            raise ListingUnavailableError
            yield  # a generator, like the real one

        index = DirectoryIndex(
            store.list_directory, store.head, list_after=denied, max_entries=1_000
        )
        assert index.lookup(keys[0]) == store.expected(keys[0])
        assert index.lookup(keys[1_200]) == store.expected(keys[1_200])
        assert store.heads == []
        assert index.lookup(keys[2_900]) == store.expected(keys[2_900])
        assert store.heads == [keys[2_900]]
        assert index.lookup(keys[2_901]) == store.expected(keys[2_901])
        assert store.heads == [keys[2_900], keys[2_901]]

    def test_windows_are_bounded_in_number(self) -> None:
        """Beyond the window limit the least recently asked is forgotten; the counts stay."""
        stores = [PagedStore(f"d{n}/", [f"f{m:05d}" for m in range(1_200)]) for n in range(10)]

        def list_after(prefix: str, start_after: str) -> Iterator[Listed | Subdirectory]:
            return stores[int(prefix[1:-1])].list_after(prefix, start_after)

        def head(key: str) -> dict[str, Any] | None:
            raise AssertionError(key)

        index = DirectoryIndex(
            lambda prefix: list_after(prefix, ""), head, list_after=list_after, max_entries=1_000
        )
        for store in stores:
            assert index.lookup(f"{store.prefix}f00001") is not None
        assert len(index._windows) == 8
        assert index.window_lists == 10
