"""How fast requests may start: slowing down when S3 says so, and the rate limits.

Answers that say "too fast" (503 SlowDown, 429) halve the requests allowed in
flight, which then grow back by one per round of successes (AIMD, as TCP
does), so a throttled run slows down instead of hammering (``Throttle``).
``--max-requests`` and ``--max-bandwidth`` are token buckets (``Pace``).

Pure state, clocked from outside by the dispatcher (dispatch.py); it sends
nothing, sleeps never and knows no thread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

__all__ = ["HALVE_EVERY", "THROTTLE_CEILING", "THROTTLE_FLOOR", "Pace", "Throttle"]

THROTTLE_FLOOR: Final = 1.0
THROTTLE_CEILING: Final = 4096.0
"""A limit grown back past this is lifted altogether."""
HALVE_EVERY: Final = 0.5
"""One burst of throttled answers halves the limit once, not once per answer."""


@dataclass
class Pace:
    """At most ``rate`` units a second (requests, or bytes), for --max-requests/--max-bandwidth.

    A token bucket that may go into debt: a request starts when the bucket is
    not empty and takes what it needs, so a part larger than the bucket still
    goes, and the ones after it wait until the debt is paid. Over any stretch
    of time the units started stay within ``rate`` per second plus one tenth
    of a second's worth.
    """

    rate: float
    level: float = 0.0
    stamp: float = -math.inf

    @property
    def burst(self) -> float:
        """Units that may start at once after a pause."""
        return max(1.0, self.rate / 10)

    def wait(self, now: float) -> float:
        """Seconds until something may start (0: now)."""
        self._refill(now)
        return 0.0 if self.level > 0 else (1e-9 - self.level) / self.rate

    def take(self, now: float, amount: float) -> None:
        """Spend ``amount`` units (the bucket may go into debt)."""
        self._refill(now)
        self.level -= amount

    def _refill(self, now: float) -> None:
        if self.stamp == -math.inf:
            self.level = self.burst
        else:
            self.level = min(self.burst, self.level + (now - self.stamp) * self.rate)
        self.stamp = now


@dataclass
class Throttle:
    """Requests allowed in flight: halved by each burst of "slow down", grown back by successes."""

    limit: float = math.inf
    _halved: float = -math.inf

    def slow_down(self, now: float, in_flight: int) -> None:
        """A throttled answer: halve what is in flight (once per burst)."""
        if now - self._halved < HALVE_EVERY:
            return
        self._halved = now
        self.limit = max(THROTTLE_FLOOR, min(self.limit, in_flight) / 2)

    def succeeded(self) -> None:
        """A success: one more in flight per limit's worth of successes."""
        if math.isinf(self.limit):
            return
        self.limit += 1 / self.limit
        if self.limit > THROTTLE_CEILING:
            self.limit = math.inf

    def allows(self, in_flight: int) -> bool:
        """Whether one more request may start."""
        return in_flight < self.limit
