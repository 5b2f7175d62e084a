"""Rate limits shared by put's worker processes: one token bucket in memory they all map.

``--max-requests`` and ``--max-bandwidth`` are limits for the whole run. A
bucket per worker with a share of the rate would let each burst on its own,
so together they could start more in a second than asked. Here the bucket's
two numbers (level and stamp) live in shared memory made before the workers
are forked, and a process-shared lock keeps each check-and-spend whole.
``time.monotonic`` is the system's clock, the same in every process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from s3pput.transport.throttle import Pace

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

__all__ = ["SharedPace", "SharedRates"]

_LEVEL: Final = 0
_STAMP: Final = 1


class SharedPace(Pace):
    """A ``Pace`` whose state is shared with the processes forked after it was made."""

    def __init__(self, rate: float) -> None:
        import multiprocessing  # noqa: PLC0415  # made only for runs with rate limits and workers
        from ctypes import c_double  # noqa: PLC0415  # as above

        context = multiprocessing.get_context("fork")
        self._cells = context.RawArray(c_double, 2)
        self.guard: AbstractContextManager[object] = context.Lock()
        """Held across a check and a spend, in every process."""
        super().__init__(rate)

    @property  # the dataclass field, kept in shared memory
    def level(self) -> float:
        """Units in the bucket (negative: in debt)."""
        return float(self._cells[_LEVEL])

    @level.setter
    def level(self, value: float) -> None:
        self._cells[_LEVEL] = value

    @property
    def stamp(self) -> float:
        """When the bucket was last filled."""
        return float(self._cells[_STAMP])

    @stamp.setter
    def stamp(self, value: float) -> None:
        self._cells[_STAMP] = value


class SharedRates:
    """The run's ``--max-requests`` and ``--max-bandwidth`` buckets, made once for every worker."""

    def __init__(self, max_requests: float | None, max_bandwidth: float | None) -> None:
        self.requests = None if max_requests is None else SharedPace(max_requests)
        self.bandwidth = None if max_bandwidth is None else SharedPace(max_bandwidth)
