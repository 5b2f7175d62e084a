"""Walk local paths into file records, streaming: the first record comes out at once.

Each directory is listed whole (so its entries can be sorted for deterministic
output) and descended with an explicit stack, so memory grows with the depth of
the tree and the size of one directory, never with the tree, and depth is not
limited by Python's recursion limit. Nothing is ever opened: a fifo is only
stat()ed, so it cannot hang the walk.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from s3pput import keys, log
from s3pput.records import Record
from s3pput.shard import Shard

__all__ = ["STAGE", "WalkOptions", "iter_files", "iter_files_from", "split_paths"]

STAGE: Final = "walk"
"""The ``stage`` of every failed record and the ``stage`` field of every log line."""

_CHUNK_SEPARATORS: Final = {False: b"\n", True: b"\0"}

_KINDS: Final = {
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFBLK: "block device",
    stat.S_IFCHR: "character device",
}


@dataclass(frozen=True)
class WalkOptions:
    """What to walk and how; the CLI builds one from its flags.

    ``include`` only re-admits what ``exclude`` removed, as in the original
    s3-parallel-put: on its own it filters nothing.
    """

    prefix: str = ""
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    limit: int | None = None
    follow_dir_links: bool = True
    descend_listed_dirs: bool = False
    """With --files-from, walk a listed directory (``-r``) instead of skipping it."""
    shard: Shard | None = None
    """Keep only this share of the records (``--shard i/n``), before ``limit`` counts them."""

    def excluded(self, name: str, rel: str) -> bool:
        """Say whether an entry is left out, judged by its name and its path relative to SRC."""
        if not self.exclude:
            return False

        def matches(patterns: tuple[str, ...]) -> bool:
            return any(
                fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(rel, p) for p in patterns
            )

        return matches(self.exclude) and not matches(self.include)


@dataclass(frozen=True)
class _Frame:
    """One directory on the descent stack, and the entries of it still to visit."""

    path: str
    key: str
    rel: str
    ident: tuple[int, int]
    entries: Iterator[os.DirEntry[str]]


class _Descent:
    """The directories on the current descent path: the walk's stack and its loop check."""

    def __init__(self) -> None:
        self.frames: list[_Frame] = []
        self._paths: dict[tuple[int, int], str] = {}

    def push(self, path: str, key: str, rel: str, result: os.stat_result) -> str | None:
        """List a directory and descend into it; return why it cannot be listed, if so."""
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as exc:
            return str(exc)
        ident = (result.st_dev, result.st_ino)
        self.frames.append(_Frame(path=path, key=key, rel=rel, ident=ident, entries=iter(entries)))
        self._paths[ident] = path
        return None

    def pop(self) -> None:
        """Leave the innermost directory, which has no entries left."""
        del self._paths[self.frames.pop().ident]

    def ancestor(self, result: os.stat_result) -> str | None:
        """Return the path of the directory being walked that ``result`` is, if any."""
        return self._paths.get((result.st_dev, result.st_ino))


def iter_files(
    sources: Iterable[str],
    options: WalkOptions | None = None,
    *,
    before_scan: Callable[[], None] | None = None,
) -> Iterator[Record]:
    """Yield a record per regular file under each source, and a failed one per unreadable thing.

    Sources are walked in order. A source that is a file gets the key
    prefix + its basename; a directory gives prefix + the path of each file
    relative to it. ``before_scan`` is called before each directory is read
    (which may block, on a network file system), so a writer can pass on
    what it holds first.
    """
    opts = options or WalkOptions()
    walker = _Walker(opts, log.get_logger(STAGE), before_scan)
    records = (
        record
        for source in sources
        for record in walker.top(
            source,
            file_key=keys.join_key(opts.prefix, [_basename(source)]),
            dir_key=keys.join_key(opts.prefix, []),
            match=None,
        )
    )
    yield from selected(records, opts)


def iter_files_from(
    paths: Iterable[str],
    options: WalkOptions | None = None,
    *,
    before_scan: Callable[[], None] | None = None,
) -> Iterator[Record]:
    """Like ``iter_files`` for a list of paths, each consumed only when its turn comes.

    A listed file gets the key prefix + its normalized path (``./a`` and ``/a``
    give ``a``). A listed directory is skipped, as rsync and tar do, because
    ``find`` lists directories beside their files; with ``descend_listed_dirs``
    it is walked under prefix + that path.
    Patterns are matched against the normalized path and its last part.
    """
    opts = options or WalkOptions()
    walker = _Walker(opts, log.get_logger(STAGE), before_scan)

    def records() -> Iterator[Record]:
        for path in paths:
            parts = [p for p in path.split("/") if p not in {"", "."}]
            key = keys.join_key(opts.prefix, parts)
            match = (parts[-1], "/".join(parts)) if parts else None
            yield from walker.top(
                path, file_key=key, dir_key=key, match=match, descend=opts.descend_listed_dirs
            )

    yield from selected(records(), opts)


def split_paths(chunks: Iterable[bytes], *, null: bool = False) -> Iterator[str]:
    """Split raw chunks into paths at newlines (or NULs), yielding each as soon as it ends.

    Bytes become ``str`` with ``os.fsdecode``, so names that are not UTF-8
    survive. Empty entries are skipped; nothing else is stripped.
    """
    sep = _CHUNK_SEPARATORS[null]
    pending = bytearray()
    for chunk in chunks:
        pending.extend(chunk)
        end = pending.rfind(sep)
        if end < 0:
            continue
        complete = bytes(pending[:end])
        del pending[: end + 1]
        yield from (os.fsdecode(raw) for raw in complete.split(sep) if raw)
    if pending:
        yield os.fsdecode(bytes(pending))


def selected(records: Iterable[Record], options: WalkOptions) -> Iterator[Record]:
    """The records ``--shard`` keeps, up to ``--limit`` of them."""
    if options.shard is not None:
        records = options.shard.select(records)
    return limited(records, options.limit)


def limited(records: Iterable[Record], limit: int | None) -> Iterator[Record]:
    """Stop after ``limit`` file records; failed records pass through without counting."""
    if limit is None:
        yield from records
        return
    if limit <= 0:
        return
    count = 0
    for record in records:
        yield record
        if record.status != "failed":
            count += 1
            if count >= limit:
                return


class _Walker:
    """Turns one top-level path at a time into records, logging what it cannot read."""

    def __init__(
        self,
        options: WalkOptions,
        logger: log.Logger,
        before_scan: Callable[[], None] | None = None,
    ) -> None:
        self._options = options
        self._log = logger
        self._before_scan = before_scan

    def _push(
        self, descent: _Descent, path: str, key: str, rel: str, result: os.stat_result
    ) -> str | None:
        if self._before_scan is not None:
            self._before_scan()
        return descent.push(path, key, rel, result)

    def top(
        self,
        path: str,
        *,
        file_key: str,
        dir_key: str,
        match: tuple[str, str] | None,
        descend: bool = True,
    ) -> Iterator[Record]:
        """Emit the records for a path the user named: a file, a tree, or a failure.

        Named paths are followed even when they are symlinks to directories.
        ``match`` is the (name, relative path) that patterns see, or None when
        the path is a root that patterns do not apply to.
        """
        result = _stat(path)
        if isinstance(result, str):
            if match is None or not self._options.excluded(*match):
                yield self._failed(path, file_key, result)
            return
        if stat.S_ISDIR(result.st_mode):
            if match is not None and self._options.excluded(*match):
                return
            if not descend:
                self._log.debug("listed directory not descended (use -r)", path=_show(path))
                return
            yield from self._tree(path, dir_key, result)
            return
        if match is None:
            name = _basename(path)
            match = (name, name)
        if not self._options.excluded(*match):
            yield self._leaf(path, file_key, result)

    def _tree(self, root: str, key: str, root_stat: os.stat_result) -> Iterator[Record]:
        """Walk one directory depth-first with an explicit stack, entries sorted by name."""
        descent = _Descent()
        error = self._push(descent, root, key, "", root_stat)
        if error is not None:
            yield self._failed(root, key, error)
            return
        while descent.frames:
            frame = descent.frames[-1]
            entry = next(frame.entries, None)
            if entry is None:
                descent.pop()
                continue
            rel = f"{frame.rel}/{entry.name}" if frame.rel else entry.name
            if self._options.excluded(entry.name, rel):
                continue
            entry_key = _child_key(frame.key, entry.name)
            result = _stat(entry.path, entry)
            if isinstance(result, str):
                yield self._failed(entry.path, entry_key, result)
            elif not stat.S_ISDIR(result.st_mode):
                yield self._leaf(entry.path, entry_key, result)
            elif _is_symlink(entry) and not self._options.follow_dir_links:
                self._log.warning(
                    "skipped symlink to a directory",
                    path=_show(entry.path),
                    reason="--no-follow-dir-links",
                )
            elif (ancestor := descent.ancestor(result)) is not None:
                loop = f"symlink loop: {_show(entry.path)} leads back to {_show(ancestor)}"
                yield self._failed(entry.path, entry_key, loop)
            else:
                error = self._push(descent, entry.path, entry_key, rel, result)
                if error is not None:
                    yield self._failed(entry.path, entry_key, error)

    def _leaf(self, path: str, key: str, result: os.stat_result) -> Record:
        """Build the record for something that is not a directory: a file, or a failure."""
        if not stat.S_ISREG(result.st_mode):
            kind = _KINDS.get(stat.S_IFMT(result.st_mode), f"mode {result.st_mode:o}")
            return self._failed(path, key, f"not a regular file: {kind}")
        if not path.isascii() and keys.escape_undecodable(path) != path:
            self._log.warning(
                "name is not UTF-8; its key escapes those bytes as %XX",
                path=_show(path),
                key=key,
            )
        return Record.of_file(path, key, result.st_size, result.st_mtime)

    def _failed(self, path: str, key: str, error: str) -> Record:
        """Build a failed record and say so on stderr."""
        record = Record(path=path, key=key or None).failed(STAGE, error)
        self._log.warning("failed", path=_show(path), key=record.key, error=record.error)
        return record


def _child_key(key: str, name: str) -> str:
    """The key of ``name`` in the directory keyed ``key`` (join_key's result, ten times faster).

    A listed name is never empty, "." or "..", and has no slash; only a name
    that is not ASCII may hold bytes to escape.
    """
    if not name.isascii():
        name = keys.escape_undecodable(name)
    return f"{key}/{name}" if key else name


def _stat(path: str, entry: os.DirEntry[str] | None = None) -> os.stat_result | str:
    """Stat through symlinks; on failure return the reason in words a user can act on."""
    try:
        return entry.stat() if entry is not None else os.stat(path)  # noqa: PTH116  # paths stay str: Path would drop ./ and trailing /
    except OSError as exc:
        error = exc
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return str(error)
    if not link:
        return str(error)
    try:
        target = _show(os.readlink(path))  # noqa: PTH115  # str in, str out, as for stat
    except OSError:
        target = "?"
    if error.errno == errno.ELOOP:
        return f"symlink loop: {_show(path)} -> {target} never reaches a file"
    if error.errno in {errno.ENOENT, errno.ENOTDIR}:
        return f"broken symlink: {_show(path)} -> {target} does not exist"
    return f"symlink target cannot be read: {_show(path)} -> {target}: {error.strerror}"


def _is_symlink(entry: os.DirEntry[str]) -> bool:
    """Say whether an entry is a symlink, treating an entry that vanished as not one."""
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _basename(path: str) -> str:
    """Return the last part of a path, ignoring trailing slashes (``a/b/`` gives ``b``)."""
    return os.path.basename(os.path.normpath(path))  # noqa: PTH119  # Path has no normpath


def _show(path: str) -> str:
    """Render a path for logs and error text: bytes that are not UTF-8 as ``\\xNN``."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
