"""Shares of one walk for several machines: ``s3pput-walk --shard 2/3`` keeps every third key.

Each host walks the same tree and keeps the records whose key hashes to its
share, so n hosts together upload every file exactly once without talking
to each other. The hash is BLAKE2b of the key's bytes: the same on every
machine, Python version and run (Python's ``hash`` is salted per process).
A record without a key (a failure walk found) is placed by its path, so it
too is reported by exactly one host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from s3pput.records import Record

__all__ = ["Shard"]

_FORM: Final = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    """Share ``index`` (1 to ``count``) of ``count``."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """Read ``i/n`` (1 <= i <= n); raise ValueError with the reason otherwise."""
        found = _FORM.match(text.strip())
        if found is None:
            raise ValueError(f"not a share i/n: {text!r}")
        index, count = int(found.group(1)), int(found.group(2))
        if not 1 <= index <= count:
            raise ValueError(f"share {index}/{count}: i must be between 1 and n")
        return cls(index, count)

    def holds(self, record: Record) -> bool:
        """Whether this share takes ``record``."""
        import hashlib  # noqa: PLC0415  # it loads OpenSSL (~3 ms): only a sharded walk needs it

        name = record.key if record.key is not None else record.path or record.raw or ""
        digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8)
        return int.from_bytes(digest.digest(), "big") % self.count == self.index - 1
