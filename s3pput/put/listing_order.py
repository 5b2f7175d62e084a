"""When a listing not yet ended may say a key is absent: S3's order, and the stores that differ.

S3 lists keys in UTF-8 byte order, so once a listing has shown a key, every
key before it that exists has been shown, and the rest of the listing need
not be waited for. Not every store lists that way. SeaweedFS walks its
directories: ``o/a/1, o/a/2, o/a-b``, where S3 gives ``o/a-b`` first ("-"
sorts before "/"). s3rver walks file names that carry a suffix:
``o/a/1, o/a-b, o/a``. A listing's first pages cannot tell these orders
apart: all three agree on them, and differ only about keys not yet listed.

So absence is inferred from a listing's progress only for a key that every
such order puts no later than the last key listed (``listed_before``): the
stores sort names by their bytes, and differ only in how a name compares
with a longer one it begins (``a`` with ``a-b``, ``a/`` with ``a-b``), so a
key is taken as passed only when, in the first name where it differs from
the listing's mark, a character decides. Waiting past such a pair costs a
few keys of the listing, never a request.

And only while the listing itself comes in strictly increasing byte order
(``InOrder``): a store seen listing otherwise answers only from complete
listings. Python's ``str`` order is code point order, which is UTF-8 byte
order for every string a listing can hold (S3 keys are UTF-8: no lone
surrogates; a surrogate escape from a file name that is not UTF-8 would
compare as its code point, not as the byte it stands for, and check_key
refuses such keys). JavaScript sorts by UTF-16 units, which differs only
between U+E000..U+FFFF and the characters above U+FFFF: such a pair does
not decide either.

Nor is a listing that ran to its end always whole. A store resumes each
page past the last key of the one before, and s3rver compares keys for that
by string order while it walks ``p/a/...`` before ``p/a-b``: after a page
ending at ``p/a/0999`` it skips ``p/a-b`` and ``p/a.b`` for good, and every
page can still come in byte order. So each page end is kept (``PageEnds``)
and a key the listing does not hold is taken as absent only if no page end
could have lost it (``lost_at``): the same undecided pairs again, so a
listing without names that begin others loses nothing to doubt.
"""

from __future__ import annotations

import bisect
from typing import Final

__all__ = ["InOrder", "PageEnds", "listed_before", "lost_at"]

_ASTRAL: Final = 0x10000
"""The first code point UTF-16 writes as two units (a surrogate pair, 0xD800..)."""
_ABOVE_SURROGATES: Final = 0xE000
"""Code points from here to 0xFFFF sort after a surrogate pair in UTF-16, before it in UTF-8."""


def listed_before(key: str, mark: str) -> bool:
    """Whether every store that sorts names by their bytes lists ``key`` no later than ``mark``.

    True for ``mark`` itself; for an earlier key only where a character
    decides, in the first name (part between slashes) where the two differ.
    """
    if key == mark:
        return True
    if key > mark:
        return False
    for name, other in zip(key.split("/"), mark.split("/"), strict=False):
        if name == other:
            continue
        at = _common_length(name, other)
        if at == min(len(name), len(other)):  # one name begins the other: "a" and "a-b"
            return False
        return not _utf16_differs(name[at], other[at])
    return False  # the names of one key begin the other's: a file beside a directory of its name


def _common_length(one: str, other: str) -> int:
    """How many characters ``one`` and ``other`` share at their start."""
    for at, (a, b) in enumerate(zip(one, other, strict=False)):
        if a != b:
            return at
    return min(len(one), len(other))


def _utf16_differs(one: str, other: str) -> bool:
    """Whether UTF-16 order puts these two characters the other way round from code point order."""
    low, high = sorted((ord(one), ord(other)))
    return low >= _ABOVE_SURROGATES and low < _ASTRAL <= high


class InOrder:
    """Watches one listing: how far it has got, while every key came after the last.

    ``mark`` is the last key listed; it answers for the keys before it
    (``listed_before``) only while ``ordered``. A key equal to or below the
    last one makes the listing out of order for good.
    """

    def __init__(self, start: str = "") -> None:
        self.mark = start
        """The last key listed (``start``, a key below every one to come, before the first)."""
        self.ordered = True

    def take(self, key: str) -> bool:
        """Note the next key listed; False if it broke the order (now or before)."""
        if key <= self.mark:
            self.ordered = False
        else:
            self.mark = key
        return self.ordered

    def passed(self, key: str) -> bool:
        """Whether the listing, in order so far, has passed ``key`` whatever the store's walk."""
        return self.ordered and listed_before(key, self.mark)


def lost_at(key: str, end: str) -> bool:
    """Whether some store could skip ``key`` when it resumes a listing past page end ``end``.

    It can where its walk may reach ``key`` after ``end`` while its resume
    compares ``key`` as not past ``end``: a key before ``end`` that not
    every walk lists before it (``listed_before``), or one after it only
    in code point order, not in UTF-16's.
    """
    if key == end:
        return False
    at = _common_length(key, end)
    if key < end:
        return at == len(key) or "/" in (key[at], end[at]) or _utf16_differs(key[at], end[at])
    return at < len(end) and _utf16_differs(key[at], end[at])


def _astral(key: str) -> bool:
    """Whether ``key`` holds a character above U+FFFF (UTF-16 sorts those apart)."""
    return any(ord(char) >= _ASTRAL for char in key)


class PageEnds:
    """The page ends of one listing: whether one of them could have lost a key it does not show.

    Only ends above a key can lose it, unless UTF-16 order differs for it
    (a character above U+FFFF): then all are asked, and once some were
    forgotten such a key is always in doubt.
    """

    def __init__(self) -> None:
        self._ends: list[str] = []
        """In order."""
        self._forgotten = False

    def add(self, end: str) -> None:
        """Note that a page stopped at ``end`` and the next resumed past it."""
        bisect.insort(self._ends, end)

    def doubt(self, key: str) -> bool:
        """Whether the listing may lack ``key`` although the store holds it."""
        if not self._ends and not self._forgotten:
            return False
        if _astral(key):
            return self._forgotten or any(lost_at(key, end) for end in self._ends)
        above = bisect.bisect_right(self._ends, key)
        return any(lost_at(key, end) for end in self._ends[above:])

    def forget(self, floor: str) -> None:
        """Forget the ends up to ``floor`` (no key up to it is asked of the listing now)."""
        cut = bisect.bisect_right(self._ends, floor)
        if cut:
            del self._ends[:cut]
            self._forgotten = True

    def __len__(self) -> int:
        return len(self._ends)
