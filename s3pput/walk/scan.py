"""Directories read in units that can run on other threads without changing the walk's output.

A directory is read as a ``Listing`` (its names, sorted) and then a ``Chunk``
per ``CHUNK`` names: each entry stat()ed and sorted out as a file to list, a
directory to descend, a failure to report. Each unit's ``order`` is where its
output falls in the walk (depth-first, entries by name), so the walk takes
them in that order whether it ran them itself or a thread of
``prefetch.Lookahead`` ran them first. Chunks let the threads stat one large
directory together, not only several small ones.

Nothing here logs or writes: a unit keeps only what the walk will emit, and
keeps it small (a file is its name, size and mtime; the stat result, ten
times that, is dropped at once), so the units read ahead cost little memory.
Only directories are opened (O_DIRECTORY): a fifo is only stat()ed, so it
cannot hang the walk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Final, NamedTuple, TypeAlias

from s3pput import keys
from s3pput.walk.filters import Filters, Verdict
from s3pput.walk.lookahead import Unit
from s3pput.walk.record_lines import FileEntry

__all__ = [
    "CHUNK",
    "Chunk",
    "Directory",
    "Failure",
    "Listing",
    "OddName",
    "Rules",
    "Segment",
    "SkippedLink",
    "child_key",
    "describe_stat_error",
    "kind_error",
    "show",
]

CHUNK: Final = 128
"""Entries stat()ed per unit: small enough that threads share a large directory,
large enough that handing a unit over (a lock, a heap) costs little per entry."""

_KINDS: Final = {
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFBLK: "block device",
    stat.S_IFCHR: "character device",
}
_FORMAT: Final = stat.S_IFMT(0o177777)
_DIRECTORY: Final = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
"""How a chunk opens its directory: O_DIRECTORY fails on anything else, so a fifo put in
its place meanwhile is never opened (which would wait for a writer)."""
_by_name = attrgetter("name")
_PATH_MAX: Final = 4096
_NAME_MAX: Final = 255


@dataclass(frozen=True)
class Rules:
    """What a walk keeps and descends, as the units need it."""

    filters: Filters | None = None
    """Which entries to leave out, by their names and paths below the root; None keeps all."""
    follow_dir_links: bool = True
    stat_files: bool = True
    """Whether a file's size and mtime are read; without, a plain file costs no system call."""


class Directory:
    """A directory being walked: where it is, its key, and the way down to it (for loops)."""

    __slots__ = (
        "clean",
        "excluded",
        "ident",
        "key",
        "key_prefix",
        "parent",
        "path",
        "prefix",
        "rel",
        "short",
    )

    def __init__(  # noqa: PLR0913  # what a directory is, and how the walk came to it
        self,
        path: str,
        key: str,
        rel: str,
        ident: tuple[int, int],
        parent: Directory | None,
        *,
        excluded: bool = False,
    ) -> None:
        self.path = path
        self.key = key
        self.rel = rel
        """Its path below the root, as patterns see it ("" for the root)."""
        self.ident = ident
        self.parent = parent
        self.prefix = path if path.endswith("/") else f"{path}/"
        """What its entries' paths start with: prefix + name is what DirEntry.path would be."""
        self.key_prefix = f"{key}/" if key else ""
        self.clean = self.prefix.isascii() or _is_utf8(self.prefix)
        """Whether the path is UTF-8: if not, every file below needs path_b64 and a warning."""
        self.short = len(os.fsencode(self.prefix)) + _NAME_MAX < _PATH_MAX
        """Whether every entry's full path fits in PATH_MAX: only then is a stat relative to
        the directory sure to fail exactly when one by full path (and put's open) would."""
        self.excluded = excluded
        """Whether it was left out and is read only for entries an --include re-admits."""

    def ancestor(self, ident: tuple[int, int]) -> str | None:
        """The path of this directory or one above it that is ``ident``, if any: a loop."""
        directory: Directory | None = self
        while directory is not None:
            if directory.ident == ident:
                return directory.path
            directory = directory.parent
        return None


class Failure(NamedTuple):
    """An entry that gives a failed record."""

    name: str
    error: str


class SkippedLink(NamedTuple):
    """A symlink to a directory, not followed: a warning, no record."""

    name: str


class OddName(NamedTuple):
    """A file whose path is not UTF-8: a record with path_b64, and a warning."""

    name: str
    size: int | None
    mtime: float | None


Segment: TypeAlias = "list[FileEntry] | Failure | SkippedLink | OddName | Listing"
"""What a chunk found, in order: a run of plain files, an entry to report, or a directory to
descend (its Listing)."""


class Listing(Unit):
    """Read one directory's names; its chunks (or its ``error``) are the result."""

    __slots__ = ("chunks", "directory", "error", "rules")

    def __init__(self, directory: Directory, order: tuple[int, ...], rules: Rules) -> None:
        super().__init__(order, size=1, group=directory)
        self.directory = directory
        self.rules = rules
        self.error: str | None = None
        self.chunks: list[Chunk] = []

    def run(self) -> Sequence[Chunk]:
        """List and sort the names, and cut them into chunks to stat.

        Names alone (``listdir``) cost a third less than DirEntry objects;
        the type the listing gives (``scandir``) is needed only without sizes,
        and where --include may reach below excluded directories: an entry
        left out is stat()ed only if the listing does not rule out a directory.
        """
        plain: list[bool] | None = None
        not_dirs: list[bool] | None = None
        filters = self.rules.filters
        searching = filters is not None and filters.can_search()
        try:
            if self.rules.stat_files and not searching:
                names = os.listdir(self.directory.path)  # noqa: PTH208  # str names, no Path each
                names.sort()
            else:
                with os.scandir(self.directory.path) as listing:
                    entries = sorted(listing, key=_by_name)
                names = [entry.name for entry in entries]
                plain = None if self.rules.stat_files else [_plain(entry) for entry in entries]
                not_dirs = [_not_directory(entry) for entry in entries] if searching else None
        except OSError as exc:
            self.error = str(exc)
            return ()
        self.chunks = [
            Chunk(
                self,
                start,
                names[start : start + CHUNK],
                None if plain is None else plain[start : start + CHUNK],
                None if not_dirs is None else not_dirs[start : start + CHUNK],
            )
            for start in range(0, len(names), CHUNK)
        ]
        return self.chunks


class Chunk(Unit):
    """Stat up to CHUNK entries of a listing and sort them out into ``segments``."""

    __slots__ = ("listing", "names", "not_dirs", "plain", "segments", "start")

    def __init__(
        self,
        listing: Listing,
        start: int,
        names: list[str],
        plain: list[bool] | None,
        not_dirs: list[bool] | None = None,
    ) -> None:
        super().__init__((*listing.order, start, 0), size=len(names), group=listing.directory)
        self.listing = listing
        self.start = start
        self.names = names
        self.plain = plain
        """Without sizes: whether the listing says each entry is a plain file (no stat then)."""
        self.not_dirs = not_dirs
        """With --include: whether the listing rules out a directory (an entry left out is
        then passed over without a stat)."""
        self.segments: list[Segment] = []

    def run(self) -> Sequence[Listing]:
        """Sort out each entry; return the listings of the directories to descend.

        Files are stat()ed relative to the directory, opened once per chunk
        (if any entry needs a stat): a stat by full path looks up every part
        of it again, a sixth more.
        """
        directory = self.listing.directory
        fd: int | None = None
        if directory.short and (self.plain is None or not all(self.plain)):
            with contextlib.suppress(OSError):  # gone or locked: each entry fails with its reason
                fd = os.open(directory.path, _DIRECTORY)
        try:
            return self._sort_out(fd, "" if fd is not None else directory.prefix)
        finally:
            self.names = []
            self.plain = self.not_dirs = None
            if fd is not None:
                os.close(fd)

    def _sort_out(self, fd: int | None, base: str) -> list[Listing]:  # noqa: C901, PLR0912  # hot loop
        """The loop of ``run``, for each entry: one stat (none for a plain file without sizes).

        The walk's hot loop, in one piece: a call per entry would cost a tenth of its stat.
        """
        directory = self.listing.directory
        rules = self.listing.rules
        filters = rules.filters
        in_excluded = directory.excluded
        rel = f"{directory.rel}/" if directory.rel else ""
        clean = directory.clean
        sizes = rules.stat_files
        segments = self.segments
        files: list[FileEntry] = []
        found: list[Listing] = []
        plain = self.plain
        for index, name in enumerate(self.names, self.start):
            segment: Segment
            if (
                filters is not None
                and (verdict := filters.judge(name, rel + name, in_excluded=in_excluded))
                is not Verdict.KEEP
            ):
                searched = verdict is Verdict.SEARCH and self._searched(name, index, fd, base)
                if not searched:
                    continue
                found.append(searched)
                segment = searched
            elif plain is not None and plain[index - self.start]:
                if clean and (name.isascii() or _is_utf8(name)):
                    files.append((name, None, None))
                    continue
                segment = OddName(name, None, None)
            else:
                try:
                    result = os.stat(base + name, dir_fd=fd)
                except OSError as exc:
                    segment = Failure(name, describe_stat_error(directory.prefix + name, exc))
                else:
                    mode = result.st_mode
                    if mode & _FORMAT == stat.S_IFREG:
                        size, mtime = (result.st_size, result.st_mtime) if sizes else (None, None)
                        if clean and (name.isascii() or _is_utf8(name)):
                            files.append((name, size, mtime))
                            continue
                        segment = OddName(name, size, mtime)
                    elif mode & _FORMAT == stat.S_IFDIR:
                        segment = self._directory(name, index, result, fd, base)
                        if isinstance(segment, Listing):
                            found.append(segment)
                    else:
                        segment = Failure(name, kind_error(mode))
            if files:
                segments.append(files)
                files = []
            segments.append(segment)
        if files:
            segments.append(files)
        return found

    def _searched(self, name: str, index: int, fd: int | None, base: str) -> Listing | None:
        """An entry left out, if it is a directory to read for what an --include re-admits.

        What is left out is never reported: an entry that cannot be read, a
        link not to follow or a loop is passed over in silence.
        """
        if self.not_dirs is not None and self.not_dirs[index - self.start]:
            return None
        try:
            result = os.stat(base + name, dir_fd=fd)
        except OSError:
            return None
        if result.st_mode & _FORMAT != stat.S_IFDIR:
            return None
        found = self._directory(name, index, result, fd, base, excluded=True)
        return found if isinstance(found, Listing) else None

    def _directory(  # noqa: PLR0913  # the entry, where it is, and whether it was left out
        self,
        name: str,
        index: int,
        result: os.stat_result,
        fd: int | None,
        base: str,
        *,
        excluded: bool = False,
    ) -> Listing | Failure | SkippedLink:
        """A directory to descend, unless it is a link not to follow or a way back up."""
        parent = self.listing.directory
        path = parent.prefix + name
        if not self.listing.rules.follow_dir_links and _is_symlink(base + name, fd):
            return SkippedLink(name)
        ident = (result.st_dev, result.st_ino)
        ancestor = parent.ancestor(ident)
        if ancestor is not None:
            return Failure(name, f"symlink loop: {show(path)} leads back to {show(ancestor)}")
        rel = f"{parent.rel}/{name}" if parent.rel else name
        child = Directory(path, child_key(parent.key, name), rel, ident, parent, excluded=excluded)
        return Listing(child, (*self.listing.order, index, 1), self.listing.rules)


def child_key(key: str, name: str) -> str:
    """The key of ``name`` in the directory keyed ``key`` (join_key's result, ten times faster).

    A listed name is never empty, "." or "..", and has no slash; only a name
    that is not ASCII may hold bytes to escape.
    """
    if not name.isascii():
        name = keys.escape_undecodable(name)
    return f"{key}/{name}" if key else name


def describe_stat_error(path: str, error: OSError) -> str:
    """Why ``path`` could not be stat()ed, in words a user can act on (a symlink's target)."""
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return str(error)
    if not link:
        return str(error)
    try:
        target = show(os.readlink(path))  # noqa: PTH115  # str in, str out, as for stat
    except OSError:
        target = "?"
    if error.errno == errno.ELOOP:
        return f"symlink loop: {show(path)} -> {target} never reaches a file"
    if error.errno in {errno.ENOENT, errno.ENOTDIR}:
        return f"broken symlink: {show(path)} -> {target} does not exist"
    return f"symlink target cannot be read: {show(path)} -> {target}: {error.strerror}"


def show(path: str) -> str:
    """Render a path for logs and error text: bytes that are not UTF-8 as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def kind_error(mode: int) -> str:
    """The error of something that is not a regular file or a directory."""
    kind = _KINDS.get(stat.S_IFMT(mode), f"mode {mode:o}")
    return f"not a regular file: {kind}"


def _plain(entry: os.DirEntry[str]) -> bool:
    """Whether the listing says an entry is a regular file (not a link): no stat needed.

    Only a file system that gives no type (DT_UNKNOWN) costs an lstat here;
    one that fails means the entry is stat()ed after all, which says why.
    """
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _not_directory(entry: os.DirEntry[str]) -> bool:
    """Whether the listing says an entry is neither a directory nor a link that may be one."""
    try:
        return not entry.is_dir(follow_symlinks=False) and not entry.is_symlink()
    except OSError:
        return False


def _is_symlink(path: str, dir_fd: int | None) -> bool:
    """Say whether an entry is a symlink, treating an entry that vanished as not one."""
    try:
        return stat.S_ISLNK(os.lstat(path, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


def _is_utf8(text: str) -> bool:
    """Whether a str from ``os.fsdecode`` was UTF-8 (it holds no surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
