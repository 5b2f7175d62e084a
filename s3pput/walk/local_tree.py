"""Walk local paths into file records, streaming: the first record comes out at once.

Each directory is read whole, so its entries can be sorted for deterministic
output, in the units of ``scan``: a listing, then chunks of entries to stat.
With ``walk_threads`` above 1, threads read those units ahead of the output
(``prefetch.Lookahead``; on a network file system each stat waits for the
server); the walk takes them in its own order either way, so the output does
not depend on the threads. Directories are descended with an explicit stack,
so memory grows with the depth of the tree, the size of one directory and the
bounded look-ahead, never with the tree, and depth is not limited by
Python's recursion limit.

The plain files of a directory travel as one ``batches.FileBatch``, written
as lines in one go or expanded into records: building a Record and its line
for each file took longer than the stat that found it.
"""

from __future__ import annotations

import functools
import itertools
import os
import stat
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from s3pput import keys, log
from s3pput.records import WALK_STAGE, Record
from s3pput.walk.batches import FileBatch, records_of, select
from s3pput.walk.filters import Filters, Verdict
from s3pput.walk.lookahead import Inline, Lookahead
from s3pput.walk.scan import (
    Directory,
    Failure,
    Listing,
    OddName,
    Rules,
    SkippedLink,
    child_key,
    describe_stat_error,
    kind_error,
    show,
)
from s3pput.walk.shard import Shard

__all__ = [
    "STAGE",
    "FileBatch",
    "WalkOptions",
    "iter_batches",
    "iter_batches_from",
    "iter_files",
    "iter_files_from",
    "selected",
    "split_paths",
]

STAGE: Final = WALK_STAGE
"""The ``stage`` of every failed record and the ``stage`` field of every log line."""

_CHUNK_SEPARATORS: Final = {False: b"\n", True: b"\0"}


@dataclass(frozen=True)
class WalkOptions:
    """What to walk and how; the CLI builds one from its flags.

    ``include`` only re-admits what ``exclude`` removed, as in the original
    s3-parallel-put: on its own it filters nothing. It also re-admits files
    below an excluded directory (``filters`` says how).
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
    walk_threads: int = 1
    """Threads reading directories ahead of the output; 1 reads each in turn on the caller's."""
    stat_files: bool = True
    """Read each file's size and mtime; without (``--no-stat``) a record has path and key only."""

    @functools.cached_property
    def filters(self) -> Filters:
        """The patterns compiled, once per walk."""
        return Filters(self.include, self.exclude)

    def excluded(self, name: str, rel: str) -> bool:
        """Say whether an entry is left out, judged by its name and its path relative to SRC."""
        return bool(self.exclude) and self.filters.excluded(name, rel)

    def keeps_path(self, rel: str) -> bool:
        """Whether a file at ``rel`` below SRC is kept, its directories judged as a walk would."""
        return not self.exclude or self.filters.keeps_path(rel)


def iter_files(
    sources: Iterable[str],
    options: WalkOptions | None = None,
    *,
    before_scan: Callable[[], None] | None = None,
) -> Iterator[Record]:
    """Yield a record per regular file under each source, and a failed one per unreadable thing.

    Sources are walked in order. A source that is a file gets the key
    prefix + its basename; a directory gives prefix + the path of each file
    relative to it. ``before_scan`` is called before the walk may wait for
    a directory (which may block, on a network file system), so a writer
    can pass on what it holds first.
    """
    return records_of(iter_batches(sources, options, before_scan=before_scan))


def iter_batches(
    sources: Iterable[str],
    options: WalkOptions | None = None,
    *,
    before_scan: Callable[[], None] | None = None,
) -> Iterator[Record | FileBatch]:
    """Like ``iter_files``, with each directory's plain files as one FileBatch (to write fast)."""
    opts = options or WalkOptions()
    walker = _Walker(opts, log.get_logger(STAGE), before_scan)
    try:
        found = (
            item
            for source in sources
            for item in walker.top(
                source,
                file_key=keys.join_key(opts.prefix, [_basename(source)]),
                dir_key=keys.join_key(opts.prefix, []),
                match=None,
            )
        )
        yield from select(found, opts.shard, opts.limit)
    finally:
        walker.close()


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
    return records_of(iter_batches_from(paths, options, before_scan=before_scan))


def iter_batches_from(
    paths: Iterable[str],
    options: WalkOptions | None = None,
    *,
    before_scan: Callable[[], None] | None = None,
) -> Iterator[Record | FileBatch]:
    """Like ``iter_files_from``, with each directory's plain files as one FileBatch."""
    opts = options or WalkOptions()
    walker = _Walker(opts, log.get_logger(STAGE), before_scan)

    def found() -> Iterator[Record | FileBatch]:
        for path in paths:
            parts = [p for p in path.split("/") if p not in {"", "."}]
            key = keys.join_key(opts.prefix, parts)
            match = (parts[-1], "/".join(parts)) if parts else None
            yield from walker.top(
                path, file_key=key, dir_key=key, match=match, descend=opts.descend_listed_dirs
            )

    try:
        yield from select(found(), opts.shard, opts.limit)
    finally:
        walker.close()


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
    """The records ``--shard`` keeps, up to ``--limit`` of them (as for a walk's batches)."""
    return records_of(select(records, options.shard, options.limit))


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
        self._rules = Rules(
            filters=options.filters if options.exclude else None,
            follow_dir_links=options.follow_dir_links,
            stat_files=options.stat_files,
        )
        self._source: Inline | Lookahead | None = None
        self._trees = itertools.count()

    def close(self) -> None:
        """Stop the threads reading ahead, if any."""
        if self._source is not None:
            self._source.close()

    def top(
        self,
        path: str,
        *,
        file_key: str,
        dir_key: str,
        match: tuple[str, str] | None,
        descend: bool = True,
    ) -> Iterator[Record | FileBatch]:
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
            verdict = self._top_verdict(match)
            if verdict is Verdict.DROP:
                return
            if not descend:
                self._log.debug("listed directory not descended (use -r)", path=show(path))
                return
            yield from self._tree(path, dir_key, result, excluded=verdict is Verdict.SEARCH)
            return
        if match is None:
            name = _basename(path)
            match = (name, name)
        if not self._options.excluded(*match):
            yield self._leaf(path, file_key, result)

    def _top_verdict(self, match: tuple[str, str] | None) -> Verdict:
        """What to do with a directory the user named; a SRC root (no ``match``) is walked.

        A listed directory that is left out is read only if an --include could
        match below it (its entries' paths start again from it).
        """
        if match is None or not self._options.excluded(*match):
            return Verdict.KEEP
        return Verdict.SEARCH if self._options.filters.reaches_below("") else Verdict.DROP

    def _tree(
        self, root: str, key: str, root_stat: os.stat_result, *, excluded: bool = False
    ) -> Iterator[Record | FileBatch]:
        """Walk one directory depth-first with an explicit stack, entries sorted by name."""
        ident = (root_stat.st_dev, root_stat.st_ino)
        directory = Directory(root, key, "", ident, None, excluded=excluded)
        top = Listing(directory, (next(self._trees),), self._rules)
        stack = [self._contents(top)]
        while stack:
            item = next(stack[-1], None)
            if item is None:
                stack.pop()
            elif isinstance(item, Listing):
                stack.append(self._contents(item))
            else:
                yield item

    def _contents(self, listing: Listing) -> Iterator[Record | FileBatch | Listing]:
        """What one directory gives, in order; a Listing is a subdirectory to walk there."""
        source = self._scanner()
        source.take(listing)
        directory = listing.directory
        if listing.error is not None and directory.excluded:
            self._log.warning(
                "cannot read a directory left out by --exclude; --include not tried below it",
                path=show(directory.path),
                error=listing.error,
            )
            return
        if listing.error is not None:
            yield self._failed(directory.path, directory.key, listing.error)
            return
        chunks = deque(listing.chunks)
        listing.chunks = []  # each chunk is let go once its entries are out
        while chunks:
            chunk = chunks.popleft()
            source.take(chunk)
            for segment in chunk.segments:
                if isinstance(segment, list):
                    yield FileBatch(directory, segment)
                elif isinstance(segment, Listing):
                    yield segment
                elif isinstance(segment, Failure):
                    path = directory.prefix + segment.name
                    yield self._failed(path, child_key(directory.key, segment.name), segment.error)
                elif isinstance(segment, OddName):
                    path = directory.prefix + segment.name
                    key = child_key(directory.key, segment.name)
                    yield self._file(path, key, segment.size, segment.mtime)
                elif isinstance(segment, SkippedLink):
                    self._log.warning(
                        "skipped symlink to a directory",
                        path=show(directory.prefix + segment.name),
                        reason="--no-follow-dir-links",
                    )

    def _scanner(self) -> Inline | Lookahead:
        """Whatever reads directories: this thread in turn, or threads ahead (started once)."""
        if self._source is None:
            threads = self._options.walk_threads
            self._source = (
                Lookahead(threads, self._before_scan) if threads > 1 else Inline(self._before_scan)
            )
        return self._source

    def _leaf(self, path: str, key: str, result: os.stat_result) -> Record:
        """Build the record for a named path that is not a directory: a file, or a failure."""
        if not stat.S_ISREG(result.st_mode):
            return self._failed(path, key, kind_error(result.st_mode))
        if not self._options.stat_files:
            return self._file(path, key, None, None)
        return self._file(path, key, result.st_size, result.st_mtime)

    def _file(self, path: str, key: str, size: int | None, mtime: float | None) -> Record:
        """Build a file's record, warning when its name is not UTF-8."""
        if not path.isascii() and keys.escape_undecodable(path) != path:
            self._log.warning(
                "name is not UTF-8; its key escapes those bytes as %XX",
                path=show(path),
                key=key,
            )
        if size is None or mtime is None:
            return Record(path=path, key=key)
        return Record.of_file(path, key, size, mtime)

    def _failed(self, path: str, key: str, error: str) -> Record:
        """Build a failed record and say so on stderr."""
        record = Record(path=path, key=key or None).failed(STAGE, error)
        self._log.warning("failed", path=show(path), key=record.key, error=record.error)
        return record


def _stat(path: str) -> os.stat_result | str:
    """Stat a named path through symlinks; on failure return the reason in words."""
    try:
        return os.stat(path)  # noqa: PTH116  # paths stay str: Path would drop ./ and trailing /
    except OSError as exc:
        return describe_stat_error(path, exc)


def _basename(path: str) -> str:
    """Return the last part of a path, ignoring trailing slashes (``a/b/`` gives ``b``)."""
    return os.path.basename(os.path.normpath(path))  # noqa: PTH119  # Path has no normpath
