"""No key is taken as absent because a listing passed it, where the store lists out of byte order.

SeaweedFS lists a prefix without a delimiter as a walk of its directories:
``o/a/1, o/a/2, o/a-b``, where S3 lists ``o/a-b`` first ("-" sorts before
"/"). And with a delimiter it places a subdirectory (``o/a/``) where its
name without the slash sorts. Here the index meets stores in memory that
list in each such order (s3rver's and UTF-16's too);
e2e/test_listing_order_seaweedfs.py drives the real commands against the
real server.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeAlias

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_listing import PagedStore

from s3pput.put.bucket_index import DirectoryIndex
from s3pput.put.listing_order import InOrder, listed_before
from s3pput.transport.listed import Listed

Order: TypeAlias = Callable[[list[str]], list[str]]
"""How a store orders the keys of a listing."""


def byte_order(keys: list[str]) -> list[str]:
    """S3's order: UTF-8 bytes."""
    return sorted(keys, key=lambda key: key.encode())


def seaweedfs_order(keys: list[str]) -> list[str]:
    """A walk of directories, each listed by name: o/a, o/a/1, o/a b, o/a-b."""
    return sorted(keys, key=lambda key: [name.encode() for name in key.split("/")])


def s3rver_order(keys: list[str]) -> list[str]:
    """A walk of directories whose file names carry a suffix: o/a/1, o/a-b, o/a."""
    return sorted(
        keys,
        key=lambda key: [
            *key.encode().split(b"/")[:-1],
            key.encode().split(b"/")[-1] + b"._S3rver_object",
        ],
    )


def utf16_order(keys: list[str]) -> list[str]:
    """JavaScript's sort: UTF-16 code units (U+FF21 after U+1F600)."""
    return sorted(keys, key=lambda key: key.encode("utf-16-be"))


def find_order(keys: list[str]) -> list[str]:
    """The keys as ``find`` lists a directory: ``a-b`` before ``a/...`` (here: shortest first)."""
    return sorted(keys, key=lambda key: (key.count("/"), key))


ORDERS: Final = [byte_order, seaweedfs_order, s3rver_order, utf16_order]

NAMES: Final = st.text(alphabet="ab-. 0/A\u00e9\uff21\U0001f600", min_size=1, max_size=6)
KEYS: Final = NAMES.map(lambda name: "p/" + name).filter(
    lambda key: "//" not in key and not key.endswith("/")  # put refuses these (item 7)
)


class TestStrOrderIsByteOrder:
    @given(st.text(), st.text())
    def test_for_text_without_surrogates(self, one: str, other: str) -> None:
        """Python compares str by code point, which is UTF-8 byte order (S3's) for text."""
        if any(0xD800 <= ord(c) < 0xE000 for c in one + other):
            return
        assert (one < other) == (one.encode() < other.encode())

    def test_not_for_surrogate_escapes(self) -> None:
        """A surrogate-escaped byte compares as its code point, not as the byte: keys refuse it."""
        escaped, text = "\udcff", "\ue000"
        assert escaped < text
        assert escaped.encode("utf-8", "surrogateescape") > text.encode()


class TestListedBefore:
    def test_a_character_decides(self) -> None:
        """Keys that differ at a character of a name, in byte order: passed."""
        assert listed_before("p/a/0", "p/a/1")
        assert listed_before("p/0", "p/a/1")
        assert listed_before("p/a-b", "p/b/x")
        assert listed_before("p/a/9", "p/b")
        assert listed_before("p/x", "p/x")

    def test_a_name_that_begins_another_does_not(self) -> None:
        """o/a-b before o/a/1 in S3, after it in SeaweedFS; o/a before o/a-b, after it in s3rver."""
        assert not listed_before("p/a-b", "p/a/1")
        assert not listed_before("p/a", "p/a-b")
        assert not listed_before("p/a", "p/a/1")
        assert not listed_before("p/a b", "p/a/1")

    def test_utf16_order_does_not_decide(self) -> None:
        """U+FF21 before U+1F600 in UTF-8, after it in UTF-16 (JavaScript's sort)."""
        assert not listed_before("p/\uff21", "p/\U0001f600")
        assert listed_before("p/\u00e9", "p/\U0001f600")

    def test_nothing_after_the_mark(self) -> None:
        """A key past the mark is not passed."""
        assert not listed_before("p/b", "p/a")

    @given(st.sets(KEYS, min_size=1, max_size=30), st.sampled_from(ORDERS))
    def test_no_key_still_to_come_is_taken_as_passed(self, keys: set[str], order: Order) -> None:
        """Whatever the store's order, while in byte order no key still to come counts as passed."""
        listing = order(list(keys))
        watch = InOrder()
        for at, key in enumerate(listing):
            watch.take(key)
            assert not any(watch.passed(later) for later in listing[at + 1 :]), listing[: at + 1]

    @given(st.sets(KEYS, min_size=1, max_size=30), st.sampled_from(ORDERS))
    def test_a_listing_out_of_byte_order_stops_answering(
        self, keys: set[str], order: Order
    ) -> None:
        """Once a key comes at or below the one before it, nothing counts as passed any more."""
        listing = order(list(keys))
        watch = InOrder()
        for at, key in enumerate(listing):
            if not watch.take(key):
                assert not any(watch.passed(other) for other in keys)
                assert listing[: at + 1] != byte_order(listing[: at + 1])
                return
        assert listing == byte_order(listing)


class GatedTree:
    """A tree listing in a store's order, a page at a time, each page let go by the test."""

    def __init__(self, keys: list[str], order: Order, *, page: int = 2) -> None:
        self.listing = order(keys)
        self.page = page
        self.gates = threading.Semaphore(0)
        self.waiting = threading.Event()
        """Set while the listing waits for its next page: every earlier key is in the index."""

    def list_tree(self, prefix: str) -> Iterator[Listed]:
        """The keys under ``prefix`` in the store's order: a page, then one per ``next_page``."""
        keys = [key for key in self.listing if key.startswith(prefix)]
        for start in range(0, len(keys), self.page):
            if start:
                self.waiting.set()
                assert self.gates.acquire(timeout=30)
                self.waiting.clear()
            yield from (Listed(key, "e", 1) for key in keys[start : start + self.page])

    def next_page(self) -> None:
        """Let the next page come."""
        self.waiting.clear()
        self.gates.release()

    def index(self) -> DirectoryIndex:
        """An index that lists trees here only (a directory listing or HEAD fails the test)."""

        def never(key: str) -> Any:
            raise AssertionError(f"asked the store about {key} outside the tree listing")

        return DirectoryIndex(never, never, list_tree=self.list_tree)


def answer_later(index: DirectoryIndex, key: str) -> tuple[threading.Thread, list[object]]:
    """Look ``key`` up on a thread of its own; the answer lands in the list."""
    answers: list[object] = []
    thread = threading.Thread(target=lambda: answers.append(index.lookup(key)), daemon=True)
    thread.start()
    return thread, answers


class TestTreeOutOfOrder:
    def test_a_key_on_a_later_page_is_not_taken_as_absent(self) -> None:
        """SeaweedFS: o/a-b on page 2, after o/a/1 and o/a/2; asked after page 1, it waits."""
        store = GatedTree(["p/a/1", "p/a/2", "p/a-b"], seaweedfs_order)
        index = store.index()
        index.hint(["p/a-b"])
        assert store.waiting.wait(30)  # page 1 is in: p/a/1, p/a/2, all in byte order
        thread, answers = answer_later(index, "p/a-b")
        thread.join(0.5)
        assert answers == []  # a wrong "absent" would be here already
        assert index._trees.trees["p/"].answers("p/a-b") is False  # type: ignore[union-attr]  # a Tree
        store.next_page()
        thread.join(30)
        assert answers == [{"ETag": '"e"', "ContentLength": 1}]
        assert index.byte_order is False

    def test_after_a_listing_out_of_order_only_complete_listings_answer(self) -> None:
        """Once the store listed out of byte order, a new tree's progress answers nothing."""
        store = GatedTree(["p/a/1", "p/a-b", "q/1", "q/3", "q/5"], seaweedfs_order)
        index = store.index()
        assert index.lookup("p/a-b") is not None  # p/a/1, then p/a-b: out of order
        thread, answers = answer_later(index, "q/2")
        assert store.waiting.wait(30)  # q/1, q/3 are in: q/2 is passed in S3's order
        thread.join(0.5)
        assert answers == []
        store.next_page()
        thread.join(30)
        assert answers == [None]

    @pytest.mark.parametrize("order", ORDERS)
    def test_every_answer_is_right_whatever_the_order(self, order: Order) -> None:
        """Keys asked in find's order while the listing comes a page at a time: all right."""
        present = ["p/a", "p/a/1", "p/a-b", "p/a b", "p/\uff21", "p/\U0001f600"]
        absent = ["p/a/0", "p/a/2", "p/a.b", "p/a-a", "p/b/x", "p/\uffff"]
        store = GatedTree(present, order, page=1)
        index = store.index()
        index.hint(present)
        asked = []
        for _ in present[1:]:
            assert store.waiting.wait(30)  # a page is in, the next not yet
            asked += [(key, *answer_later(index, key)) for key in find_order(present + absent)]
            store.next_page()
        for key, thread, answers in asked:
            thread.join(30)
            assert answers == [{"ETag": '"e"', "ContentLength": 1} if key in present else None], key


class TestTreeInOrder:
    def test_absent_keys_are_answered_before_the_listing_ends(self) -> None:
        """In S3's order, a key the listing has passed is known absent from its page on."""
        store = GatedTree(["p/a-b", "p/a/1", "p/a/3", "p/c/1", "p/d/1", "p/e/1"], byte_order)
        index = store.index()
        index.hint(["p/x", "p/a/0"])
        assert store.waiting.wait(30)
        assert index.lookup("p/0") is None
        assert index.lookup("p/a/0") is None
        assert index.lookup("p/a/1") is not None
        thread, answers = answer_later(index, "p/a")  # a file beside a directory: p/a/1 is no proof
        thread.join(0.5)
        assert answers == []
        store.next_page()  # p/a/3, p/c/1: past p/a in every order, before the last page
        thread.join(30)
        assert answers == [None]
        assert index.byte_order is True
        store.next_page()


class TestWindowOutOfOrder:
    def test_a_subdirectory_on_an_earlier_page_moves_nothing_on(self) -> None:
        """SeaweedFS lists big/n0999/ on the page of big/n0999, before big/n0999-b: all found."""
        names = [f"n{n:04d}" for n in range(999)] + ["n0999/", "n0999-b", "n0999.b"]
        store = PagedStore("big/", names + [f"n{n:04d}" for n in range(1_000, 3_000)])
        store.entries.sort(key=lambda entry: entry.removesuffix("/").encode())
        assert store.entries[999:1_001] == ["big/n0999/", "big/n0999-b"]  # the end of page 1
        index = store.index()
        keys = sorted(store.objects)
        assert [index.lookup(key) for key in keys] == [store.expected(key) for key in keys]
        assert store.heads == []
        assert store.pages == 4  # 3,002 entries, nothing listed twice

    @pytest.mark.parametrize("at", [500, 1_500])
    def test_objects_out_of_byte_order_are_headed(self, at: int) -> None:
        """s3rver lists d/a-b before d/a: the window (or its start) gives up, and HEAD answers."""
        names = [f"n{n:04d}" for n in range(2_000)] + [f"n{at:04d}-b"]
        store = PagedStore("big/", names)
        store.entries.sort(key=lambda entry: (entry + "._S3rver_object").encode())
        index = store.index()
        keys = [*sorted(store.objects), "big/n9999"]
        assert [index.lookup(key) for key in keys] == [store.expected(key) for key in keys]
        assert f"big/n{at:04d}" in store.heads
        assert all(window.given_up for window in index._windows.values())
