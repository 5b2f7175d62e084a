"""What the put driver asks of the uploader for each record, and what it reports of a run.

The driver (driver.py) runs records through a ``Lane``: it starts a native
upload (``Started``, with no thread waiting for it), gives a result at once,
or hands the record to a worker thread. Kept apart so that the uploader
implements the lane without importing the driver, and the driver runs any
lane without knowing what an upload is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

from s3pput.records import Record

__all__ = ["Lane", "NativeDone", "Outcome", "Started"]

NativeDone: TypeAlias = Callable[[object, BaseException | None], None]
"""Called by the native client, on its thread, with (response, error)."""


@dataclass(frozen=True)
class Started:
    """An upload the native client runs on its own, with no thread waiting for it."""

    finish: Callable[[object, BaseException | None], Record]
    """Turns (response, error) into the result record; runs on the driver thread."""
    cancel: Callable[[], None]
    deadline: float
    """time.monotonic() after which the upload is cancelled (it then fails)."""
    size: int = 0
    """Bytes the native client buffers for it, counted against ``Driver.max_bytes``."""


class Lane(Protocol):
    """What the driver asks of an uploader for each record."""

    def begin(self, record: Record, done: NativeDone) -> Started | Record | None:
        """Start a native upload, or give the result at once, or None to use ``process``."""

    def process(self, record: Record) -> Record:
        """The result of a record that a thread must wait for; never raises for its own failure."""

    def interrupted(self, record: Record, *, begun: bool = True) -> Record:
        """The result of a record the run was stopped before it finished.

        ``begun`` False: no upload of it had started (it waited for a slot, or
        was not yet read); its result says so (``reason`` ``not started``).
        """

    def crashed(self, record: Record, exc: Exception) -> Record:
        """The result of a record whose processing hit a bug."""


@dataclass
class Outcome:
    """How a run ended, for the command's log and exit status."""

    ended: Literal["finished", "interrupted", "output closed"] = "finished"
    failed: int = 0
    """Results written with status failed."""
    unreported: int = 0
    """Records read (or left unread) whose result could not be written."""
    read_everything: bool = True
