"""Which upload in parts an interrupted record names: the uploader and the record agree.

When a run is stopped, two threads decide the fate of an upload in parts at
once: the driver writes the record of the interrupted file, and the worker
that uploads it sees its requests fail (a throttled run's queued parts fail
at once) or, for a request already on the wire, succeed. Before, the worker
forgot the upload before the driver asked for it, and the record came out
without ``upload_id`` while the upload stayed on the server. Here both go
through one lock, and the rule is: the record carries the id of an upload
left on the server for its replay, never of one aborted or being completed;
an upload the record does not name is aborted (if the process lives long
enough: put exits soon after a stop, and ``--abort-incomplete`` cleans up).

It knows no S3 requests: multipart.py makes them and asks here what to do.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from s3pput.errors import S3RequestError
from s3pput.transport import retry

__all__ = ["REQUEST_WAIT", "Tracked", "UploadState", "Uploads"]

REQUEST_WAIT: Final = 15.0
"""How long an interrupted record waits for the request that creates or completes its
upload, so it names an upload that exists (and not one about to be completed)."""

Phase: TypeAlias = Literal["starting", "creating", "sending", "completing", "over"]


@dataclass
class UploadState:
    """An upload in progress, as an interrupted record should carry it."""

    upload_id: str
    part_size: int
    sent: int = 0
    """Bytes sent by this run (parts found on the server are not counted)."""


@dataclass
class Tracked:
    """One upload of a key, as the record of an interrupted run must tell it.

    Read and written under ``Uploads``' lock only.
    """

    resuming: str | None = None
    """The upload id the record came with, to resume."""
    phase: Phase = "starting"
    state: UploadState | None = None
    dropped: bool = False
    """The upload the record came with is gone or aborted: its id must not be replayed."""
    reported: bool = False
    """An interrupted record was written for it already."""
    handed: str | None = None
    """The upload id that record carries: one that must be left on the server."""


def stopping() -> S3RequestError:
    """The error of a step not taken because the run is being stopped."""
    return S3RequestError("interrupted", transport=retry.INTERRUPTED)


class Uploads:
    """The uploads in parts under way in a run, by key; thread-safe."""

    def __init__(self) -> None:
        self._active: dict[str, Tracked] = {}
        self._changed = threading.Condition(threading.Lock())
        self._stopped = False
        """The run is stopping (an interrupted record was asked for): start no upload."""

    def start(self, key: str, resuming: str | None) -> Tracked:
        """Track a new upload of ``key`` (or of the record's ``resuming``); raise if stopping."""
        with self._changed:
            if self._stopped:
                raise stopping()
            tracked = self._active[key] = Tracked(resuming)
            return tracked

    def enter(self, tracked: Tracked, phase: Phase) -> None:
        """Go on to ``phase``, unless the run is being stopped (then raise as interrupted)."""
        with self._changed:
            if tracked.reported or self._stopped:
                raise stopping()
            tracked.phase = phase

    def sending(self, tracked: Tracked, state: UploadState) -> None:
        """The upload exists (created or resumed): its parts go now.

        Raises as interrupted if the record was written without it meanwhile
        (the caller then aborts it, through ``failed``).
        """
        with self._changed:
            tracked.state = state
            self._changed.notify_all()
            if tracked.reported:
                raise stopping()
            tracked.phase = "sending"

    def dropped(self, tracked: Tracked) -> None:
        """The upload the record came with will not be resumed (gone, or aborted)."""
        with self._changed:
            tracked.dropped = True

    def finished(self, key: str, tracked: Tracked) -> None:
        """The upload is complete."""
        with self._changed:
            tracked.phase = "over"
            self._forget(key, tracked)

    def failed(self, key: str, tracked: Tracked, exc: BaseException) -> bool:
        """Settle a failed upload with the interrupted record; whether to abort it.

        An upload that record carries is left on the server. One that is not
        reported yet but failed only because the run stops is left too: the
        record, written soon, will carry it. Anything else is aborted.
        """
        with self._changed:
            state = tracked.state
            if tracked.reported:
                keep = state is not None and tracked.handed == state.upload_id
            else:
                keep = retry.interrupted(exc) and state is not None
            tracked.phase = "sending" if keep else "over"
            if retry.interrupted(exc) and not tracked.reported:
                self._changed.notify_all()  # hand_over, soon, says what became of it
            else:
                self._forget(key, tracked)
            return state is not None and not keep

    def hand_over(
        self, key: str, wait: float = REQUEST_WAIT
    ) -> tuple[str | None, int | None] | None:
        """What the record of ``key``, interrupted, must say: (upload id, part size).

        (id, size) of the upload under way, which is then left on the server
        for a replay; (None, None) when the record's own upload is gone and
        none is under way; None when nothing changed (keep the record's).
        Waits up to ``wait`` seconds for a request that creates or completes
        the upload, so the answer names an upload that exists. From the
        first call on, no upload starts: the run is being stopped.
        """
        with self._changed:
            self._stopped = True
            tracked = self._active.pop(key, None)
            if tracked is None:
                return None
            deadline = time.monotonic() + wait
            while tracked.phase in {"creating", "completing"}:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            tracked.reported = True
            state = tracked.state
            if tracked.phase == "sending" and state is not None:
                tracked.handed = state.upload_id
                return state.upload_id, state.part_size
            if state is not None or tracked.dropped:
                return None, None
            tracked.handed = tracked.resuming  # the record keeps it: leave it on the server
            return None

    def _forget(self, key: str, tracked: Tracked) -> None:
        """Forget an upload that is over (lock held); hand_over may have taken it already."""
        if self._active.get(key) is tracked:
            del self._active[key]
        self._changed.notify_all()
