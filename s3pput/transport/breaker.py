"""The circuit breaker: whether the endpoint is up, held for, or down for good.

A run of failures that says the endpoint is down opens the breaker: no
request is sent while a probe checks the endpoint with growing pauses;
requests wait, spending none of their attempts, and go on when it answers.
After ``window`` seconds down, waiting and new requests fail at once with one
clear error, so 10,000 records against a dead server end in about a minute;
probes go on, and a server that comes back is used again.

Pure state, fed outcomes and clocked from outside by the dispatcher
(dispatch.py); it sends nothing, sleeps never and knows no thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from s3pput.transport.retry import DEFAULT_WINDOW

__all__ = ["FAILURES_TO_OPEN", "FIRST_CONTACT_WINDOW", "Breaker"]

FIRST_CONTACT_WINDOW: Final = 15.0
"""How long an endpoint that never answered this run may stay down before waiting
requests fail: a wrong --endpoint-url should not cost a minute."""
FAILURES_TO_OPEN: Final = 5
"""Failures in a row, with no success between, that make the endpoint count as down."""


@dataclass
class Breaker:
    """Is the endpoint up? Closed (send), open (hold and probe), or down (fail at once).

    Fed every attempt's outcome; an answer of any kind but a 5xx counts as
    the endpoint being up.
    """

    window: float = DEFAULT_WINDOW
    failures: int = 0
    opened: float | None = None
    """time.monotonic() when the endpoint stopped answering; None while closed."""
    last_error: str = ""
    answered: bool = False
    """Whether the endpoint ever answered this run."""

    def succeeded(self) -> bool:
        """Note an answer; True if that closes an open breaker."""
        self.answered = True
        reopened = self.opened is not None
        self.failures = 0
        self.opened = None
        return reopened

    def failed(self, now: float, error: str) -> bool:
        """Note a failure that says the endpoint may be down; True if that opens the breaker."""
        self.failures += 1
        self.last_error = error
        if self.opened is None and self.failures >= FAILURES_TO_OPEN:
            self.opened = now
            return True
        return False

    def state(self, now: float) -> Literal["closed", "open", "down"]:
        """Closed: send. Open: hold requests while probing. Down: fail them at once."""
        if self.opened is None:
            return "closed"
        window = self.window if self.answered else min(self.window, FIRST_CONTACT_WINDOW)
        return "down" if now - self.opened > window else "open"
