"""``--exclude`` and ``--include``: which entries a walk keeps, and which directories it reads.

The rule is the original s3-parallel-put's, carried below excluded
directories: **an entry is kept when it matches an --include, or when it
matches no --exclude and the directory it is in is kept.** Patterns are
fnmatch globs (``*`` also matches ``/``) tried on an entry's name and on its
path below SRC. The order of the flags does not matter: an include always
wins over an exclude. So ``--exclude '*' --include '*.jpg'`` keeps every
``.jpg`` at any depth and nothing else, as it does for ``aws s3 cp``;
``--include`` alone filters nothing.

A directory that is left out is still read when an include could match
something below it (one without a ``/`` matches names at any depth; one
with a ``/`` only paths that start as it does); its entries are kept only
where an include re-admits them. Without an --include, nothing below an
excluded directory is read: an exclude-only walk costs what the kept
part of the tree costs.

This module judges names and paths only; it must not know the file system.
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Final

__all__ = ["Filters", "Verdict", "read_patterns"]

_WILDCARDS: Final = re.compile(r"[*?\[]")
_COMMENT: Final = "#"


class Verdict(enum.Enum):
    """What the walk does with one entry."""

    KEEP = enum.auto()
    """A file becomes a record; a directory is walked, its entries judged on their own."""
    DROP = enum.auto()
    """Left out; a directory is not read."""
    SEARCH = enum.auto()
    """Left out, but a directory is read for entries that an include re-admits."""


class Filters:
    """The patterns of one walk, compiled once: a walk asks about every entry."""

    __slots__ = ("_exclude", "_include", "_include_anywhere", "_include_starts")

    def __init__(self, include: Iterable[str] = (), exclude: Iterable[str] = ()) -> None:
        includes = tuple(include)
        self._include = _matcher(includes)
        self._exclude = _matcher(tuple(exclude))
        self._include_anywhere = any("/" not in p for p in includes)
        """An include without a slash matches names, which any directory may hold."""
        self._include_starts = tuple(_fixed_start(p) for p in includes if "/" in p)
        """The fixed start of each include with a slash: the paths it can match start so."""

    def can_search(self) -> bool:
        """Whether a directory left out may have to be read: there are excludes and includes."""
        return self._exclude is not None and self._include is not None

    def excluded(self, name: str, rel: str) -> bool:
        """Whether one entry on its own is left out: it matches an exclude and no include."""
        exclude, include = self._exclude, self._include
        if exclude is None or not (exclude(name) or exclude(rel)):
            return False
        return include is None or not (include(name) or include(rel))

    def judge(self, name: str, rel: str, *, in_excluded: bool = False) -> Verdict:
        """The verdict on an entry of a directory that was kept, or left out (``in_excluded``)."""
        include = self._include
        if include is not None and (include(name) or include(rel)):
            return Verdict.KEEP
        exclude = self._exclude
        if not in_excluded and (exclude is None or not (exclude(name) or exclude(rel))):
            return Verdict.KEEP
        return Verdict.SEARCH if self.reaches_below(rel) else Verdict.DROP

    def keeps_path(self, rel: str) -> bool:
        """Whether the walk of a tree would keep the file at ``rel``, judging each directory above.

        For sources that list paths, not directories (tar members, S3 keys):
        the same rule as a file-system walk, so ``--exclude cache`` leaves out
        ``cache/a.jpg`` there too.
        """
        parts = rel.split("/")
        in_excluded = False
        for depth, name in enumerate(parts[:-1], 1):
            verdict = self.judge(name, "/".join(parts[:depth]), in_excluded=in_excluded)
            if verdict is Verdict.DROP:
                return False
            in_excluded = verdict is Verdict.SEARCH
        return self.judge(parts[-1], rel, in_excluded=in_excluded) is Verdict.KEEP

    def reaches_below(self, rel: str) -> bool:
        """Whether an include could match an entry below the directory at ``rel`` ("" for SRC)."""
        if self._include_anywhere or (self._include_starts and not rel):
            return True
        below = f"{rel}/"
        return any(
            start.startswith(below) or below.startswith(start) for start in self._include_starts
        )


def read_patterns(lines: Iterable[str]) -> list[str]:
    """The patterns of a ``--exclude-from``/``--include-from`` file, one a line, in order.

    As in rclone's filter files, blank lines and lines starting with ``#``
    are skipped, and spaces around a pattern are not part of it.
    """
    stripped = (line.strip() for line in lines)
    return [line for line in stripped if line and not line.startswith(_COMMENT)]


def _matcher(patterns: tuple[str, ...]) -> Callable[[str], object] | None:
    """One compiled test for "matches any of the patterns" (as fnmatchcase), or None for none."""
    if not patterns:
        return None
    joined = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
    return re.compile(joined).match


def _fixed_start(pattern: str) -> str:
    """The part of a pattern before its first wildcard: what every path it matches starts with."""
    found = _WILDCARDS.search(pattern)
    return pattern if found is None else pattern[: found.start()]
