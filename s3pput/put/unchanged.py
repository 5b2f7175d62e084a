"""Does the object already hold this file? The comparison behind ``--put update``.

An object's ETag is the MD5 of its body when it went up in one PUT, and an MD5
of part MD5s (``...-N``) when it went up in parts, which depends on the part
size. So the comparison trusts, in order: the source MD5 we stored in the
object's metadata, a single-part ETag, and a multipart ETag recomputed for the
part sizes that give its part count (the one we recorded first). Local MD5s are
computed at most once per file version and remembered in the checksum cache.
This module compares; it must not know requests, records or ``--put`` modes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from s3pput.put.etags import ETagDigest, candidate_part_sizes, split_etag
from s3pput.put.local_files import open_regular

if TYPE_CHECKING:
    from s3pput.put.checksum_cache import ChecksumCache

__all__ = [
    "MD5_METADATA",
    "PART_SIZE_METADATA",
    "Digests",
    "LocalDigests",
    "Version",
    "same_content",
    "same_kept_md5",
    "unchanged_test",
]

MD5_METADATA: Final = "s3pput-md5"
"""User metadata holding the source file's MD5, so ``update`` works for any upload."""
PART_SIZE_METADATA: Final = "s3pput-part-size"
"""User metadata holding the part size of a multipart upload, to recompute its ETag."""
READ_CHUNK: Final = 1024 * 1024


class Version(Protocol):
    """What ``--compare size|size-mtime`` looks at: a ``stat`` result, or a tar member's."""

    @property
    def st_size(self) -> int: ...  # noqa: D102  # as os.stat_result
    @property
    def st_mtime(self) -> float: ...  # noqa: D102  # as os.stat_result


class Digests(Protocol):
    """The local side of ``same_content``, computed only when asked (LocalDigests, say)."""

    def md5(self) -> str: ...  # noqa: D102  # as LocalDigests
    def multipart_etags(self, part_sizes: list[int]) -> Mapping[int, str]: ...  # noqa: D102  # as LocalDigests


def unchanged_test(
    version: Version, digests: Digests, *, compare: str, part_size: int
) -> Callable[[Mapping[str, Any]], bool]:
    """``update``'s test for a body sent as it is: by size (and date), or by its digests.

    The part size we record, then ``part_size``, are tried first for a multipart ETag.
    """

    def unchanged(head: Mapping[str, Any]) -> bool:
        if compare != "checksum":
            return same_by_metadata(head, version, compare)
        return same_content(
            head,
            size=version.st_size,
            md5=digests.md5,
            multipart_etags=digests.multipart_etags,
            preferred_part_sizes=recorded_part_sizes(head, part_size),
        )

    return unchanged


def same_by_metadata(head: Mapping[str, Any], identity: Version, compare: str) -> bool:
    """``--compare size`` or ``size-mtime``: decide from what a listing says, reading nothing.

    ``size``: the sizes match. ``size-mtime``: they match and the object is
    not older than the file, to the second (what ``aws s3 sync`` and s5cmd do). A listing's
    LastModified is ISO text, a HEAD's a datetime; without one, the file
    counts as changed.
    """
    if head.get("ContentLength") != identity.st_size:
        return False
    if compare == "size":
        return True
    modified = head.get("LastModified")
    if isinstance(modified, str) and modified:
        modified = datetime.fromisoformat(modified)  # 3.11 reads the "Z" S3 writes
    if not isinstance(modified, datetime):
        return False
    # Stores keep LastModified to the second: compare whole seconds, or a file
    # written in the second before its upload would always look newer.
    return modified.timestamp() >= math.floor(identity.st_mtime)


def same_content(
    head: Mapping[str, Any],
    *,
    size: int | None,
    md5: Callable[[], str],
    multipart_etags: Callable[[list[int]], Mapping[int, str]],
    preferred_part_sizes: tuple[int, ...],
) -> bool:
    """Tell whether the object described by ``head`` holds these bytes.

    ``size`` is the body's size (None when it cannot be known cheaply, as for
    a body gzipped on the way); ``md5`` and ``multipart_etags`` compute the
    local side only when the object's own answer needs them.
    """
    if size is not None and head.get("ContentLength") not in {None, size}:
        return False
    kept = same_kept_md5(head, md5)
    if kept is not None:
        return kept
    etag, parts = split_etag(str(head.get("ETag", "")))
    if not parts:
        return etag == md5()
    length = head.get("ContentLength")
    if not isinstance(length, int):
        return False
    wanted = f"{etag}-{parts}"
    candidates = candidate_part_sizes(length, parts, preferred_part_sizes)
    return any(value == wanted for value in multipart_etags(candidates).values())


def same_kept_md5(head: Mapping[str, Any], md5: Callable[[], str]) -> bool | None:
    """Whether the source MD5 s3pput kept in the object's metadata is ``md5()``.

    None when the object keeps none (not uploaded by s3pput, or with
    ``--put stupid`` before metadata was kept): the caller decides another way.
    ``md5`` is called only when there is something to compare.
    """
    stored = (head.get("Metadata") or {}).get(MD5_METADATA)
    if not stored:
        return None
    return bool(stored == md5())


def recorded_part_sizes(head: Mapping[str, Any], ours: int) -> tuple[int, ...]:
    """Part sizes to try first for a multipart ETag: the one we recorded, then ours."""
    recorded = str((head.get("Metadata") or {}).get(PART_SIZE_METADATA, ""))
    if recorded.isdigit() and int(recorded) > 0:
        return (int(recorded), ours)
    return (ours,)


def _version(result: os.stat_result) -> tuple[int, int, int, int, int]:
    return (result.st_dev, result.st_ino, result.st_size, result.st_mtime_ns, result.st_ctime_ns)


class LocalDigests:
    """The MD5 and multipart ETags of one version of a local file, read at most once.

    ``identity`` is the ``stat`` of that version: it keys the cache, so a file
    that changed since is never answered from it.
    """

    def __init__(self, path: str, identity: os.stat_result, cache: ChecksumCache | None) -> None:
        self.path = path
        self.identity = identity
        self.cache = cache
        self._known: dict[str, str] = {}

    def known_md5(self) -> str | None:
        """The MD5 if it was computed or found already, without reading anything."""
        return self._known.get("md5")

    def md5(self) -> str:
        """The file's MD5, from this object, the cache, or one read of the file."""
        return self._values(["md5"])["md5"]

    def multipart_etags(self, part_sizes: list[int]) -> dict[int, str]:
        """The multipart ETag for each part size, all from the same single read."""
        values = self._values([f"etag-{p}" for p in part_sizes])
        return {p: values[f"etag-{p}"] for p in part_sizes}

    def remember(self, kind: str, value: str) -> None:
        """Keep a value learnt elsewhere (an ETag S3 computed over our bytes, say)."""
        self._known[kind] = value
        if self.cache is not None:
            self.cache.put(self.identity, kind, value)

    def _values(self, kinds: list[str]) -> dict[str, str]:
        missing = [k for k in kinds if k not in self._known]
        if self.cache is not None:
            for kind in missing:
                value = self.cache.get(self.identity, kind)
                if value is not None:
                    self._known[kind] = value
        if any(k not in self._known for k in kinds):
            self._read(kinds)
        return {k: self._known[k] for k in kinds}

    def _read(self, kinds: list[str]) -> None:
        part_sizes = [int(k.removeprefix("etag-")) for k in kinds if k.startswith("etag-")]
        digest = ETagDigest(part_sizes)
        with open_regular(self.path) as source:
            before = os.fstat(source.fileno())
            while chunk := source.read(READ_CHUNK):
                digest.update(chunk)
            after = os.fstat(source.fileno())
        values = {"md5": digest.md5()}
        values.update((f"etag-{p}", digest.multipart_etag(p)) for p in part_sizes)
        if not _version(before) == _version(after) == _version(self.identity):
            # The file changed since its stat, or while it was read: these digests
            # may be of no version at all; the caller's answer now, never the cache's.
            self._known.update(values)
            return
        for kind, value in values.items():
            self.remember(kind, value)
