"""A listing, page after page: the continuation tokens, and where each page ended.

ListObjectsV2 answers 1,000 keys at a time; the next page is asked with the
token the last one gave. Each page but the last is followed by its ends
(``PageEnd``): a store may skip keys when it resumes past them
(put/listing_order.py). Pure loops over a function that reads one page
(native.py sends the request, list_page.py reads its XML), so they are
tested without a network; they know nothing of what the keys are for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeAlias

from s3pput.transport.list_page import ListPage
from s3pput.transport.listed import Listed, PageEnd, Subdirectory

__all__ = ["PageReader", "directory_entries", "tree_entries"]

PageReader: TypeAlias = Callable[[dict[str, str]], ListPage]
"""Sends one ListObjectsV2 request with these query parameters; what its page holds."""


def directory_entries(
    read_page: PageReader, prefix: str, start_after: str = ""
) -> Iterator[Listed | Subdirectory | PageEnd]:
    """Yield the objects and subdirectories directly under ``prefix`` (delimiter "/").

    Each page but the last is followed by its ends (``PageEnd``): a store
    may skip keys when it resumes past them (listing_order.py).

    Only those past ``start_after``, if given (sent with the first page
    only: the continuation token carries it on). The XML is read by
    list_page.py rather than botocore's generic parser, which costs ~100 us
    per key (it parses every LastModified date).
    """
    token: str | None = None
    while True:
        query = {"prefix": prefix, "delimiter": "/"}
        if token is not None:
            query["continuation-token"] = token
        elif start_after:
            query["start-after"] = start_after
        page = read_page(query)
        yield from page.objects
        yield from (Subdirectory(sub) for sub in page.prefixes)
        yield from (PageEnd(end) for end in page.ends())
        if not page.truncated:
            return
        token = page.token


def tree_entries(read_page: PageReader, prefix: str) -> Iterator[Listed | PageEnd]:
    """Yield every object whose key starts with ``prefix``: a LIST per 1,000, no delimiter.

    Each page but the last is followed by its ends, as ``directory_entries``'s are.
    """
    token: str | None = None
    while True:
        query = {"prefix": prefix}
        if token is not None:
            query["continuation-token"] = token
        page = read_page(query)
        yield from page.objects
        yield from (PageEnd(end) for end in page.ends())
        if not page.truncated:
            return
        token = page.token
