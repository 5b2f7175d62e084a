"""One ListObjectsV2 answer, read the same way whichever S3 implementation wrote it.

Stores differ in small ways that used to read as an empty bucket: s3rver
names another XML namespace (``http://doc.s3.amazonaws.com/2006-03-01/``) and
ignores ``encoding-type=url``, writing keys raw, control characters included
(which XML 1.0 forbids). So elements are found by local name whatever their
namespace, keys are URL-decoded only when the page says
``<EncodingType>url</EncodingType>`` (as botocore does), raw control
characters are carried through the XML parser intact, and a page that says
it holds keys but yields none is an error, never an empty directory.

Pure functions of the answer's bytes: no requests, no awscrt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote_plus
from xml.etree import ElementTree as ET  # the conventional name

from s3pput.errors import ListingUnreadableError
from s3pput.transport.listed import Listed

__all__ = ["ListPage", "parse_list_page"]

_CONTROLS: Final = re.compile(r"[\x00-\x08\x0b-\x1f]")
"""Characters XML 1.0 forbids (or, for CR, rewrites to LF) that a store may still write raw."""
_STAND_IN: Final = 0xF0000
"""Start of the private-use plane whose code points stand in for them while parsing."""
_STAND_INS: Final = re.compile("[\U000f0000-\U000f001f]")


@dataclass(frozen=True)
class ListPage:
    """What one page of a listing holds, keys decoded."""

    objects: list[Listed] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    """CommonPrefixes: the subdirectories (with a delimiter)."""
    truncated: bool = False
    token: str | None = None
    """NextContinuationToken: where the next page starts."""

    def ends(self) -> list[str]:
        """Where the next page may resume, each once; none after the last page.

        Past the last object as listed (s3rver's token names it), or past the
        greatest object or subdirectory (S3's order).
        """
        if not self.truncated:
            return []
        found = [*self.objects[-1:], *sorted(self.objects, key=_key)[-1:]]
        ends = [listed.key for listed in found] + sorted(self.prefixes)[-1:]
        return list(dict.fromkeys(ends))


def _key(listed: Listed) -> str:
    return listed.key


def _local(tag: str) -> str:
    """An element's name without its namespace ("{ns}Key" -> "Key")."""
    return tag.rpartition("}")[2]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _text(element: ET.Element, name: str, default: str = "") -> str:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return default


def _size(text: str) -> int:
    try:
        return int(text or 0)
    except ValueError:
        raise ListingUnreadableError(f"ListObjectsV2: object size {text[:40]!r}") from None


def _readable(text: str) -> tuple[str, bool]:
    """The answer with raw control characters swapped for stand-ins; whether any were.

    Only when no stand-in already occurs in it, so that swapping back is exact.
    """
    if not _CONTROLS.search(text) or _STAND_INS.search(text):
        return text, False
    return _CONTROLS.sub(lambda m: chr(_STAND_IN + ord(m.group())), text), True


def _restored(text: str) -> str:
    return _STAND_INS.sub(lambda m: chr(ord(m.group()) - _STAND_IN), text)


def parse_list_page(body: bytes) -> ListPage:
    """Read one ListObjectsV2 answer; raise ListingUnreadableError if it is not one.

    The whole answer is read before anything is yielded: a page that says
    it has keys (KeyCount) but shows none must not pass as an empty one.
    """
    text, swapped = _readable(body.decode("utf-8", "replace"))
    try:
        root = ET.fromstring(text)  # noqa: S314  # the user's own S3 endpoint; expat >= 2.4 refuses entity expansion attacks
    except ET.ParseError as exc:
        raise ListingUnreadableError(f"ListObjectsV2: unreadable answer: {exc}") from None
    if _local(root.tag) != "ListBucketResult":
        raise ListingUnreadableError(
            f"ListObjectsV2: answer is <{_local(root.tag)}>, not a listing"
        )
    encoded = _text(root, "EncodingType").strip().lower() == "url"

    def key(raw: str) -> str:
        raw = _restored(raw) if swapped else raw
        return unquote_plus(raw) if encoded else raw

    contents = _children(root, "Contents")
    if any(not _children(item, "Key") for item in contents):
        raise ListingUnreadableError("ListObjectsV2: the answer lists an object without a key")
    objects = [
        Listed(
            key(_text(item, "Key")),
            _text(item, "ETag").strip().strip('"'),
            _size(_text(item, "Size", "0")),
            _text(item, "LastModified"),
        )
        for item in contents
    ]
    prefixes = [key(_text(item, "Prefix")) for item in _children(root, "CommonPrefixes")]
    claimed = _text(root, "KeyCount").strip()
    if claimed.isdigit() and int(claimed) > 0 and not objects and not prefixes:
        raise ListingUnreadableError(
            f"ListObjectsV2: the answer says it holds {claimed} keys but none could be read"
        )
    token = _text(root, "NextContinuationToken", "") or None
    truncated = _text(root, "IsTruncated").strip().lower() == "true"
    if truncated and token is None:
        raise ListingUnreadableError(
            "ListObjectsV2: the answer says there is more but gives no NextContinuationToken"
        )
    return ListPage(objects, prefixes, truncated, token)
