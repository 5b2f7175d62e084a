"""What lies behind put's statuses: copies, skip reasons, retries, interruptions, recoveries.

A status says uploaded, skipped or failed; a person reading the summary
also wants to know how: which uploads were server-side copies (they send
no bytes, so their ``size`` is what they copied), why files were skipped,
how many tries it took, which failures were a Ctrl-C rather than an
error, and which failed files a later run uploaded after all
(``s3pput-stat run1.ndjson replay.ndjson``). This module counts those,
one record at a time, in memory that stays bounded however long the run:
counters, a capped table of skip reasons, and the set of files that failed
and have not succeeded since, which shrinks as a replay succeeds. It must
not know how the summary is shown.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from s3pput.records import INTERRUPTED, NOT_STARTED, Record

__all__ = [
    "MAX_SKIP_REASONS",
    "OTHER_REASON",
    "Identity",
    "Outcomes",
    "file_identity",
    "is_copy",
    "is_interrupted",
    "success_identities",
]

MAX_SKIP_REASONS: Final = 16
"""Distinct skip reasons counted by name; put writes three, so more are hand-made input,
counted together as ``OTHER_REASON`` so that such input cannot grow the table."""
OTHER_REASON: Final = "other"

Identity: TypeAlias = bytes
"""A file sent to a key, as a 128-bit digest: see ``file_identity``."""

_DIGEST_BYTES: Final = 16
"""128 bits: two files sharing a digest is as likely as a collision among random 128-bit
values, never in practice. A failed file is kept in about 110 bytes where its names
took over 350 (tests/unit/test_outcomes.py measures it)."""
_INTERRUPTED_UNIT: Final = 1 << 32
"""``outstanding`` packs (failed, interrupted) into one int: failed + interrupted << 32."""


def is_copy(record: Record) -> bool:
    """Whether an uploaded record was a server-side copy (docs/records.md).

    It names ``source_bucket`` or ``source_key``, or has no local path at
    all (``--put copy --source-bucket`` takes records that name only a key).
    """
    return record.status == "uploaded" and (
        "source_key" in record.extra or "source_bucket" in record.extra or record.path is None
    )


def is_interrupted(record: Record) -> bool:
    """Whether a failed record only says the run was stopped before it finished."""
    error = record.error or ""
    return record.status == "failed" and (
        error == INTERRUPTED or error.startswith(f"{INTERRUPTED}:")
    )


def file_identity(record: Record, *, keyed: bool = True) -> Identity | None:
    """What makes two records the same file sent to the same key; None if nothing does.

    The key alone is not enough: of two files sent to one key, put uploads
    the first and fails the second as a duplicate, and the first's success
    must not pass for the second's recovery. A line that was not a record
    (no key, no path) names no file and cannot be recovered. ``keyed=False``
    leaves the key out: see ``success_identities``.
    """
    if record.key is None and record.path is None:
        return None
    extra = record.extra
    names = (
        record.key if keyed else None,
        record.path,
        record.member,
        extra.get("source_bucket"),
        extra.get("source_key"),
    )
    # repr is unambiguous (quotes, None) and ASCII-safe for a path's surrogate escapes.
    return hashlib.blake2b(repr(names).encode(), digest_size=_DIGEST_BYTES).digest()


def success_identities(record: Record) -> tuple[Identity, ...]:
    """The failures a success of this record makes good: its file, keyed and not.

    A record given without a key (``{"path": ...}``) that was interrupted
    fails without one, since put names the key only as it uploads; the
    replay's result has the key, and must still recover that failure.
    """
    keyed = file_identity(record)
    if keyed is None:
        return ()
    if record.key is None or record.path is None:
        return (keyed,)
    return (keyed, file_identity(record, keyed=False) or keyed)


@dataclass
class Outcomes:
    """Counts what the statuses leave out, as the records arrive in order.

    ``recovered`` counts failed records whose file was uploaded (or skipped
    as already there) by a later record; ``outstanding`` maps each file
    that failed and has not succeeded since to its failed records (plus
    ``_INTERRUPTED_UNIT`` for each interrupted one), so it holds only what
    is still wrong.
    """

    copied: int = 0
    copied_bytes: int = 0
    interrupted: int = 0
    not_started: int = 0
    """Interrupted records put had not begun (``reason`` ``not started``): nothing was sent."""
    records_retried: int = 0
    retries: int = 0
    recovered: int = 0
    recovered_interrupted: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    outstanding: dict[Identity, int] = field(default_factory=dict)

    def add(self, record: Record) -> tuple[Identity, ...]:
        """Count one file record (never a total or stop record).

        Returns the failed files this record made good, if it did, so the
        caller can mark the failures it listed.
        """
        status = record.status
        attempts = record.attempts
        if attempts is not None and attempts > 1:
            self.records_retried += 1
            self.retries += attempts - 1
        if status == "skipped":
            self._count_reason(record.reason)
            return self._succeeded(record)
        if status == "uploaded":
            if is_copy(record):
                self.copied += 1
                self.copied_bytes += record.size or 0
            return self._succeeded(record)
        if status == "failed":
            self._failed(record)
        return ()

    def _failed(self, record: Record) -> None:
        interrupted = is_interrupted(record)
        self.interrupted += interrupted
        self.not_started += interrupted and record.reason == NOT_STARTED
        identity = file_identity(record)
        if identity is not None:  # a line that named no file stays failed for good
            counts = self.outstanding.get(identity, 0)
            self.outstanding[identity] = counts + 1 + interrupted * _INTERRUPTED_UNIT

    def _succeeded(self, record: Record) -> tuple[Identity, ...]:
        if not self.outstanding:
            return ()
        recovered: tuple[Identity, ...] = ()
        for identity in success_identities(record):
            made_good = self.outstanding.pop(identity, None)
            if made_good is not None:
                interrupted, failed = divmod(made_good, _INTERRUPTED_UNIT)
                self.recovered += failed
                self.recovered_interrupted += interrupted
                recovered = (*recovered, identity)
        return recovered

    def _count_reason(self, reason: str | None) -> None:
        name = reason or OTHER_REASON
        if name not in self.skip_reasons and len(self.skip_reasons) >= MAX_SKIP_REASONS - 1:
            name = OTHER_REASON
        self.skip_reasons[name] = self.skip_reasons.get(name, 0) + 1
