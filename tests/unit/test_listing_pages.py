"""No key is taken as absent because a listing skipped it between two pages.

s3rver walks ``p/a/...`` before ``p/a-b`` and ``p/a.b``, and resumes each
page past the last key of the one before by string order: after a page
ending at ``p/a/0999`` it never shows ``p/a-b``, though every page comes in
byte order. ``ResumingStore`` below does what s3rver does (its walk and its
resume are those of s3rver's lib/stores/filesystem.js), so each way the
index answers (a tree, a directory, a window over a big directory, a
directory known empty from the one above) is shown to ask the store again
exactly where a page end could have lost a key. test_compat.py shows the
same against s3rver itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Final, TypeAlias

from hypothesis import given
from hypothesis import strategies as st
from test_listing_order import KEYS, ORDERS, Order, byte_order, s3rver_order

from s3pput.put.bucket_index import DirectoryIndex
from s3pput.put.confirmed import HEADS_BEFORE_LISTING
from s3pput.put.listing_order import PageEnds, lost_at
from s3pput.transport.listed import Listed, PageEnd, Subdirectory

Compare: TypeAlias = Callable[[str], bytes]
"""How a store compares a key with the one it resumes past."""


def utf8(key: str) -> bytes:
    """S3's order, and SeaweedFS's resume."""
    return key.encode()


def utf16(key: str) -> bytes:
    """JavaScript's ``<=``: s3rver's resume."""
    return key.encode("utf-16-be")


def paged(keys: list[str], walk: Order, resume: Compare, page: int) -> Iterator[Listed | PageEnd]:
    """A listing as s3rver makes it: each page walks from the top, keeping keys past the mark."""
    walked = walk(keys)
    mark: str | None = None
    while True:
        rest = [key for key in walked if mark is None or resume(key) > resume(mark)]
        yield from (Listed(key, "e", 1) for key in rest[:page])
        if len(rest) <= page:
            return
        mark = rest[page - 1]
        yield PageEnd(mark)


class ResumingStore:
    """Keys listed a page at a time in s3rver's walk, resumed by JavaScript's string order."""

    def __init__(self, keys: list[str], *, page: int, walk: Order = s3rver_order) -> None:
        self.keys = set(keys)
        self.page = page
        self.walk = walk
        self.heads: list[str] = []
        self.lists: list[str] = []
        self.lock = threading.Lock()

    def list_tree(self, prefix: str) -> Iterator[Listed | PageEnd]:
        """Every key under ``prefix``, as ListObjectsV2 without a delimiter."""
        self.lists.append(prefix)
        return paged([k for k in self.keys if k.startswith(prefix)], self.walk, utf16, self.page)

    def list_after(
        self, prefix: str, start_after: str
    ) -> Iterator[Listed | Subdirectory | PageEnd]:
        """The objects directly under ``prefix`` past ``start_after`` (delimiter "/")."""
        self.lists.append(prefix)
        below = {key for key in self.keys if key.startswith(prefix)}
        direct = [key for key in below if "/" not in key[len(prefix) :]]
        past = [key for key in direct if utf16(key) > utf16(start_after)]
        yield from paged(past, self.walk, utf16, self.page)
        subdirectories = {prefix + key[len(prefix) :].partition("/")[0] + "/" for key in below}
        yield from (Subdirectory(sub) for sub in sorted(subdirectories - set(direct)))

    def list_directory(self, prefix: str) -> Iterator[Listed | Subdirectory | PageEnd]:
        """The whole directory."""
        return self.list_after(prefix, "")

    def head(self, key: str) -> dict[str, Any] | None:
        """Answer like a HEAD request."""
        with self.lock:
            self.heads.append(key)
        return {"ETag": '"e"', "ContentLength": 1} if key in self.keys else None

    def expected(self, key: str) -> dict[str, Any] | None:
        """What a lookup of ``key`` must say."""
        return {"ETag": '"e"', "ContentLength": 1} if key in self.keys else None


PAGE_A: Final = [f"p/a/{n:04d}" for n in range(12)]
"""Three pages of four: s3rver walks them before p/a-b and p/a.b, and resumes past p/a/0011."""


class TestS3rverLosesKeys:
    def test_a_listing_in_byte_order_lacks_keys_the_store_holds(self) -> None:
        """The model does what s3rver did to the compatibility matrix: p/a-b, p/a.b never listed."""
        keys = [*PAGE_A, "p/a-b", "p/a.b", "p/a0", "p/b"]
        listing = [item for item in paged(keys, s3rver_order, utf16, 4) if isinstance(item, Listed)]
        listed = [item.key for item in listing]
        assert listed == byte_order(listed)
        assert set(keys) - set(listed) == {"p/a-b", "p/a.b"}


class TestLostAt:
    def test_the_keys_s3rver_skips_are_in_doubt(self) -> None:
        """Names that begin the page end's (or that it begins), sorting before it."""
        for key in ["p/a-b", "p/a.b", "p/a", "p/a-c/x", "p/a/099"]:
            assert lost_at(key, "p/a/0999"), key

    def test_keys_a_character_decides_are_not(self) -> None:
        """Before it at a character of a name, or after it in every order: never skipped."""
        for key in ["p/a/0500", "p/0", "p/a/1000", "p/a0", "p/b", "p/a/0999", "p/a/0999.txt"]:
            assert not lost_at(key, "p/a/0999"), key

    def test_utf16_order_differs(self) -> None:
        """U+1F600 after U+FF21 by code point, before it in UTF-16: JavaScript resumes past it."""
        assert lost_at("p/\U0001f600", "p/\uff21")
        assert lost_at("p/\uff21", "p/\U0001f600")
        assert not lost_at("p/\U0001f600", "p/A")


class TestPageEnds:
    @given(
        st.sets(KEYS, min_size=1, max_size=30),
        st.sampled_from(ORDERS),
        st.sampled_from([utf8, utf16]),
        st.integers(1, 4),
    )
    def test_every_key_a_listing_skipped_is_in_doubt(
        self, keys: set[str], walk: Order, resume: Compare, page: int
    ) -> None:
        """Whatever the store's walk and resume, a key held but not listed is in doubt."""
        ends = PageEnds()
        listed = set()
        for item in paged(list(keys), walk, resume, page):
            if isinstance(item, PageEnd):
                ends.add(item.after)
            else:
                listed.add(item.key)
        assert [key for key in keys - listed if not ends.doubt(key)] == []

    def test_a_listing_in_byte_order_without_such_names_doubts_nothing(self) -> None:
        """3,000 keys, three pages in S3's order: no absent key between them is in doubt."""
        keys = [f"d/f{n:04d}.txt" for n in range(0, 6_000, 2)]
        ends = PageEnds()
        for item in paged(keys, byte_order, utf8, 1_000):
            if isinstance(item, PageEnd):
                ends.add(item.after)
        assert len(ends) == 2
        assert not any(ends.doubt(f"d/f{n:04d}.txt") for n in range(1, 6_000, 2))

    def test_only_one_page_no_doubt(self) -> None:
        """A listing that ended on its first page resumed nowhere."""
        assert not PageEnds().doubt("p/a-b")

    def test_forgotten_ends_leave_keys_above_utf16_in_doubt(self) -> None:
        """Ends forgotten below a key answer for it, except where UTF-16 order could differ."""
        ends = PageEnds()
        ends.add("p/b")
        ends.add("p/z")
        ends.forget("p/c")
        assert len(ends) == 1
        assert not ends.doubt("p/d")
        assert not ends.doubt("p/za")
        assert ends.doubt("p/\U0001f600")


class TestIndexAsksAgain:
    def test_a_tree_listing_heads_the_keys_a_page_end_could_lose(self) -> None:
        """p/a-b and p/a.b are found by HEAD; p/a-c absent by HEAD; other keys by the listing."""
        store = ResumingStore([*PAGE_A, "p/a-b", "p/a.b", "p/a0", "p/b"], page=4)
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        index.hint(["p/a/0000", "p/b"])
        asked = [*sorted(store.keys), "p/a-c", "p/9", "p/a/0005x", "p/c"]
        assert [index.lookup(key) for key in asked] == [store.expected(key) for key in asked]
        assert sorted(store.heads) == ["p/a-b", "p/a-c", "p/a.b"]
        assert index.confirmed.count == 3
        assert store.lists == ["p/"]

    def test_a_key_headed_once_is_not_headed_again(self) -> None:
        """Put asks twice about each key (before and in its upload): one HEAD answers both."""
        store = ResumingStore([*PAGE_A, "p/a-b"], page=4)
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        assert index.lookup("p/a-b") == index.lookup("p/a-b") == store.expected("p/a-b")
        assert store.heads == ["p/a-b"]

    def test_a_key_this_run_wrote_is_known_without_head(self) -> None:
        """After its HEAD said absent, ``remember`` makes it present."""
        store = ResumingStore(PAGE_A, page=4)
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        assert index.lookup("p/a-b") is None
        index.remember("p/a-b", "new", 3)
        assert index.lookup("p/a-b") == {"ETag": '"new"', "ContentLength": 3}
        assert store.heads == ["p/a-b"]

    def test_a_subtree_the_listing_skipped_is_listed_not_headed_key_by_key(self) -> None:
        """s3rver skips all of p/a-b/ after p/a/0011: a few HEADs, then p/a-b/ is listed."""
        skipped = [f"p/a-b/{n:04d}" for n in range(40)]
        store = ResumingStore([*PAGE_A, *skipped, "p/b"], page=4)
        assert {i.key for i in store.list_tree("p/") if isinstance(i, Listed)}.isdisjoint(skipped)
        store.lists.clear()
        index = DirectoryIndex(store.list_directory, store.head, list_tree=store.list_tree)
        index.hint(["p/a/0000", "p/b"])  # as put does for a batch: the tree of p/
        asked = sorted(store.keys)
        assert [index.lookup(key) for key in asked] == [store.expected(key) for key in asked]
        assert store.heads == skipped[:HEADS_BEFORE_LISTING]
        assert store.lists == ["p/", "p/a-b/"]

    def test_a_directory_listing_heads_the_keys_a_page_end_could_lose(self) -> None:
        """s3rver walks d/n0003-b before d/n0003: a page ending there loses d/n0003."""
        names = [f"d/n{n:04d}" for n in range(8)] + ["d/n0003-b"]
        store = ResumingStore(names, page=4)
        index = DirectoryIndex(store.list_directory, store.head)
        asked = sorted(store.keys)
        assert [index.lookup(key) for key in asked] == [store.expected(key) for key in asked]
        assert store.heads == ["d/n0003"]
        assert store.lists == ["d/"]

    def test_a_window_heads_the_keys_a_page_end_could_lose(self) -> None:
        """A directory too big to keep, read by a window, in pages in byte order: d/n0999 lost."""
        names = [f"d/n{n:04d}" for n in range(3_000)] + ["d/n0999-b"]
        store = ResumingStore(names, page=1_000)
        listing = [i for i in store.list_directory("d/") if isinstance(i, Listed)]
        assert "d/n0999" not in {item.key for item in listing}
        assert [item.key for item in listing] == byte_order([item.key for item in listing])
        store.lists.clear()
        index = DirectoryIndex(
            store.list_directory, store.head, list_after=store.list_after, max_entries=500
        )
        asked = sorted(store.keys)
        assert [index.lookup(key) for key in asked] == [store.expected(key) for key in asked]
        assert store.heads == ["d/n0999"]
        assert index.window_lists == 1

    def test_a_subdirectory_a_page_end_could_lose_is_listed_itself(self) -> None:
        """A walk of p/a0 before p/a/, resumed past p/a0, shows no p/a/: p/a/ is listed itself."""
        pages: dict[str, list[Listed | Subdirectory | PageEnd]] = {
            "p/": [Listed("p/a0", "e", 1), PageEnd("p/a0"), Listed("p/b", "e", 1)],
            "p/a/": [Listed("p/a/x", "e", 1)],
        }
        lists = []

        def list_directory(prefix: str) -> Iterator[Listed | Subdirectory | PageEnd]:
            lists.append(prefix)
            return iter(pages[prefix])

        def never(key: str) -> Any:
            raise AssertionError(f"HEAD {key}")

        index = DirectoryIndex(list_directory, never)
        assert index.lookup("p/a0") is not None
        assert index.lookup("p/a/x") is not None
        assert lists == ["p/", "p/a/"]
        pages["p/"] = [Listed("p/a0", "e", 1), Listed("p/b", "e", 1)]  # one page: no doubt
        index = DirectoryIndex(list_directory, never)
        lists.clear()
        assert index.lookup("p/a0") is not None
        assert index.lookup("p/a/x") is None
        assert lists == ["p/"]
