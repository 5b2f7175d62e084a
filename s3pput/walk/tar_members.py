"""Walking a tar archive: one record per member, read as a stream, nothing extracted.

``s3pput-walk --walk tar backup.tar.gz --prefix P | s3pput-put --bucket B``
uploads every file in the archive under P. A record names the archive in
``path``, the member in ``member`` and where its bytes start in the
(decompressed) archive in ``offset``; put reads exactly those bytes from the
archive. Members that are not files (directories, links to nothing, devices)
become failed records, as special files do in a file-system walk.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import Final

from s3pput import keys
from s3pput.records import Record
from s3pput.walk.local_tree import STAGE, WalkOptions, selected

__all__ = ["iter_archives", "iter_members"]

_KINDS: Final = {
    tarfile.SYMTYPE: "symbolic link",
    tarfile.CHRTYPE: "character device",
    tarfile.BLKTYPE: "block device",
    tarfile.FIFOTYPE: "fifo",
    tarfile.CONTTYPE: "contiguous file",
}


def iter_archives(archives: list[str], options: WalkOptions) -> Iterator[Record]:
    """The records of every archive in turn, up to ``--limit`` file records."""
    return selected((r for archive in archives for r in iter_members(archive, options)), options)


def iter_members(archive: str, options: WalkOptions) -> Iterator[Record]:
    """Yield a record per file member of ``archive`` (any compression tarfile reads).

    The archive is read once, front to back (so a pipe or a tape works as
    well as a file). A hard link gets the offset of the member it links to,
    when that one came earlier (it always does in archives tar writes).
    """
    files: dict[str, tuple[int, int]] = {}
    """Where each file member's bytes are, for hard links to it: (offset, size)."""
    try:
        tar = tarfile.open(archive, mode="r|*")  # noqa: SIM115  # closed below; a stream, not a context
    except (OSError, tarfile.TarError) as exc:
        yield _failed(archive, archive, f"cannot read tar archive: {exc}")
        return
    try:
        yield from _members(archive, tar, files, options)
    except (OSError, tarfile.TarError, EOFError) as exc:
        yield _failed(archive, archive, f"tar archive is damaged or cut short: {exc}")
    finally:
        tar.close()


def _members(
    archive: str,
    tar: tarfile.TarFile,
    files: dict[str, tuple[int, int]],
    options: WalkOptions,
) -> Iterator[Record]:
    for member in tar:
        name = member.name.removeprefix("./").lstrip("/")
        if member.isdir() or not name:
            continue
        if not options.keeps_path(name):
            continue
        key = keys.join_key(options.prefix, name.split("/"))
        if ".." in name.split("/"):
            yield _failed(archive, key, f"member name has '..': {member.name}", member.name)
        elif member.issparse():
            yield _failed(archive, key, "sparse member (not supported)", member.name)
        elif member.isreg():
            files[member.name] = (member.offset_data, member.size)
            yield _member(archive, key, member, member.offset_data, member.size)
        elif member.islnk() and member.linkname in files:
            offset, size = files[member.linkname]
            yield _member(archive, key, member, offset, size)
        elif member.islnk():
            yield _failed(archive, key, f"hard link to a missing member: {member.linkname}", name)
        else:
            kind = _KINDS.get(member.type, f"member type {member.type!r}")
            yield _failed(archive, key, f"not a regular file ({kind})", member.name)


def _member(archive: str, key: str, member: tarfile.TarInfo, offset: int, size: int) -> Record:
    return Record(
        path=archive,
        key=key,
        size=size,
        mtime=float(member.mtime),
        member=member.name,
        offset=offset,
    )


def _failed(archive: str, key: str, error: str, member: str | None = None) -> Record:
    return Record(path=archive, key=key, member=member).failed(STAGE, error)
