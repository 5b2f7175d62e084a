"""A listing page after page: the queries sent, and where each page's end is said.

``directory_entries`` and ``tree_entries`` loop over a function that reads
one page, so they are driven here by pages made in the test, without a
server; test_listing.py and test_compat.py run the same loops against real
stores through the native client.
"""

from __future__ import annotations

from s3pput.transport.list_page import ListPage
from s3pput.transport.listed import Listed, PageEnd, Subdirectory
from s3pput.transport.listing_pages import directory_entries, tree_entries

FIRST_TOKEN = "after-page-1"  # noqa: S105  # a continuation token, not a password
"""The NextContinuationToken of a first page (opaque to s3pput)."""


class Pages:
    """Answers the queries it is sent with the next of ``pages``, and keeps the queries."""

    def __init__(self, *pages: ListPage) -> None:
        self.pages = list(pages)
        self.queries: list[dict[str, str]] = []

    def __call__(self, query: dict[str, str]) -> ListPage:
        """The next page, as a store answers the next request."""
        self.queries.append(dict(query))
        return self.pages[len(self.queries) - 1]


def listed(*keys: str) -> list[Listed]:
    """Objects with these keys."""
    return [Listed(key, "etag", 1) for key in keys]


class TestDirectoryEntries:
    """A delimiter listing of one directory, over as many pages as the store gives."""

    def test_every_page_is_read_with_the_token_of_the_one_before(self) -> None:
        """The first page starts past ``start_after``; the next ones follow the token alone."""
        pages = Pages(
            ListPage(listed("d/b"), ["d/c/"], truncated=True, token=FIRST_TOKEN),
            ListPage(listed("d/e"), [], truncated=False),
        )
        entries = list(directory_entries(pages, "d/", "d/a"))
        assert pages.queries == [
            {"prefix": "d/", "delimiter": "/", "start-after": "d/a"},
            {"prefix": "d/", "delimiter": "/", "continuation-token": FIRST_TOKEN},
        ]
        assert entries == [
            Listed("d/b", "etag", 1),
            Subdirectory("d/c/"),
            PageEnd("d/b"),
            PageEnd("d/c/"),
            Listed("d/e", "etag", 1),
        ]

    def test_one_page_has_no_end(self) -> None:
        """A listing that fits in one page says no page end: nothing could be skipped."""
        pages = Pages(ListPage(listed("d/a"), ["d/b/"]))
        assert list(directory_entries(pages, "d/")) == [
            Listed("d/a", "etag", 1),
            Subdirectory("d/b/"),
        ]
        assert pages.queries == [{"prefix": "d/", "delimiter": "/"}]

    def test_nothing_is_asked_before_the_entries_are(self) -> None:
        """The listing is lazy: a request goes out only when the first entry is wanted."""
        pages = Pages(ListPage(listed("d/a")))
        entries = directory_entries(pages, "d/")
        assert pages.queries == []
        assert next(iter(entries)) == Listed("d/a", "etag", 1)
        assert len(pages.queries) == 1


class TestTreeEntries:
    """A listing of every key under a prefix, no delimiter."""

    def test_pages_follow_the_token_and_end_between_pages(self) -> None:
        """Each page but the last is followed by where it ended."""
        pages = Pages(
            ListPage(listed("p/a", "p/b/c"), truncated=True, token=FIRST_TOKEN),
            ListPage(listed("p/d"), truncated=False),
        )
        entries = list(tree_entries(pages, "p/"))
        assert pages.queries == [
            {"prefix": "p/"},
            {"prefix": "p/", "continuation-token": FIRST_TOKEN},
        ]
        assert entries == [
            Listed("p/a", "etag", 1),
            Listed("p/b/c", "etag", 1),
            PageEnd("p/b/c"),
            Listed("p/d", "etag", 1),
        ]
