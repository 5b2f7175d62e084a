"""The plan of an upload in parts: part sizes and ranges, and the XML that lists parts.

Pure functions, apart from the requests (parts.py), so they are tested
without a server; S3's limits on parts are in s3pput/units.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from s3pput.units import MAX_PART, MAX_PARTS, MIN_PART, MiB

__all__ = [
    "Part",
    "choose_part_size",
    "complete_body",
    "listed_parts",
    "part_ranges",
    "xml_text",
]


def choose_part_size(size: int, requested: int) -> int:
    """The part size for ``size`` bytes: the requested one, grown so the parts fit in 10,000.

    A 5 TiB file with 8 MiB asked gets 525 MiB parts (whole MiB), S3's limits respected.
    """
    part_size = max(requested, MIN_PART)
    if -(-size // part_size) > MAX_PARTS:
        needed = -(-size // MAX_PARTS)
        part_size = -(-needed // MiB) * MiB
    return min(part_size, MAX_PART)


def part_ranges(size: int, part_size: int) -> list[tuple[int, int, int]]:
    """(part number, offset, length) of every part; an empty body is one empty part."""
    if size == 0:
        return [(1, 0, 0)]
    return [
        (number, offset, min(part_size, size - offset))
        for number, offset in enumerate(range(0, size, part_size), start=1)
    ]


@dataclass(frozen=True)
class Part:
    """One part on the server, as a completion lists it."""

    number: int
    etag: str
    checksum: str | None = None
    size: int | None = None


def _escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as XML entities, as xml.sax.saxutils.escape does.

    Written here because importing xml.sax.saxutils loads urllib.request, http,
    email and ssl: about 15 ms at every start of put.
    """
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def complete_body(parts: list[Part], algorithm: str) -> bytes:
    """The CompleteMultipartUpload XML: every part's number, ETag and checksum."""
    tag = f"Checksum{algorithm.upper()}"
    items = []
    for part in sorted(parts, key=lambda p: p.number):
        checksum = f"<{tag}>{_escape(part.checksum)}</{tag}>" if part.checksum else ""
        items.append(
            f"<Part><PartNumber>{part.number}</PartNumber>"
            f"<ETag>&quot;{_escape(part.etag)}&quot;</ETag>{checksum}</Part>"
        )
    return f"<CompleteMultipartUpload>{''.join(items)}</CompleteMultipartUpload>".encode()


def xml_text(xml: bytes, tag: str) -> str | None:
    """The text of the first ``tag`` element of an S3 answer, if any."""
    from html import unescape  # noqa: PLC0415  # its entity table: only for an upload in parts

    found = re.search(rf"<{tag}>([^<]*)</{tag}>".encode(), xml)
    return unescape(found.group(1).decode()) if found else None


def listed_parts(xml: bytes, algorithm: str) -> Iterator[Part]:
    """The parts of one ListParts answer."""
    tag = f"Checksum{algorithm.upper()}"
    for item in re.findall(rb"<Part>(.*?)</Part>", xml, flags=re.DOTALL):
        yield Part(
            number=int(xml_text(item, "PartNumber") or 0),
            etag=(xml_text(item, "ETag") or "").strip('"'),
            checksum=xml_text(item, tag),
            size=int(xml_text(item, "Size") or -1),
        )
