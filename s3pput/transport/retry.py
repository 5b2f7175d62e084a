"""The retry policy: what is worth trying again, how long to wait, how hard to try.

The native client can retry on its own, but out of sight: it says neither how
many attempts a request took nor why it gave up, has no cap on the time a
record may take, and cannot tell a dead endpoint (stop trying every record)
from a busy one (slow down). So its retries are off, and every attempt's
outcome passes through one ``Dispatcher`` (dispatch.py), which asks this
module what to do:

- what is worth retrying (resets, refusals, timeouts, 500, 502, 503, 504,
  429, RequestTimeout) is tried again after an exponential backoff with full
  jitter, up to ``retries`` times and ``window`` seconds after the first try;
  what is not (403, 404, 400...) fails at once;
- answers that say "too fast" (503 SlowDown, 429) slow the run down
  (throttle.py); a run of failures that says the endpoint is down holds
  every request until it answers again (breaker.py).

Pure and clocked from outside, so it is tested without a network. It knows
no request and no thread: that is the dispatcher's; nor what a record is.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, TypeAlias

from s3pput.errors import S3RequestError

if TYPE_CHECKING:
    from s3pput.transport.shared_pace import SharedRates

__all__ = [
    "CANCELLED",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WINDOW",
    "ENDPOINT_DOWN",
    "INTERRUPTED",
    "Kind",
    "RetryPolicy",
    "backoff",
    "classify",
    "counting",
    "interrupted",
    "note",
]

DEFAULT_RETRIES: Final = 5
DEFAULT_WINDOW: Final = 60.0
"""Seconds after a request's first attempt beyond which it is not tried again; also how
long the endpoint may stay down before waiting requests fail."""
DEFAULT_TIMEOUT: Final = 60.0
"""Seconds one attempt may go without an answer (plus time for its body at SLOWEST_RATE)."""
SLOWEST_RATE: Final = 256 * 1024
BACKOFF_BASE: Final = 0.25
BACKOFF_CAP: Final = 10.0
INTERRUPTED: Final = "INTERRUPTED"
"""The ``transport`` of a request failed because the run is being stopped."""
CANCELLED: Final = "CANCELLED"
ENDPOINT_DOWN: Final = "ENDPOINT_DOWN"
Kind: TypeAlias = Literal["ok", "retry", "throttle", "fatal"]
_THROTTLE_CODES: Final = frozenset(
    {"SlowDown", "429", "503", "TooManyRequests", "Throttling", "ThrottlingException",
     "RequestLimitExceeded", "TooManyRequestsException"}
)  # fmt: skip
_RETRY_CODES: Final = frozenset(
    {"500", "502", "504", "InternalError", "ServiceUnavailable", "RequestTimeout",
     "RequestTimeoutException", "BadGateway", "GatewayTimeout", "OperationAborted"}
)  # fmt: skip
_TRANSPORT_WORDS: Final = ("SOCKET", "CONNECTION", "TIMEOUT", "DNS", "HTTP", "BROKEN_PIPE")
"""Parts of native error names that mean the network failed, not the request."""
_NOT_TRANSPORT_WORDS: Final = ("TLS_ERROR_NEGOTIATION", "CERT", "FILE", "INVALID_ARGUMENT")
"""A certificate refused or a local file that cannot be read: trying again changes nothing."""


def classify(error: S3RequestError | None) -> Kind:
    """What to do after an attempt: done, try again, try again slower, or give up."""
    if error is None:
        return "ok"
    if error.code is not None:
        if error.code in _THROTTLE_CODES:
            return "throttle"
        return "retry" if error.code in _RETRY_CODES else "fatal"
    name = error.transport or ""
    if any(word in name for word in _NOT_TRANSPORT_WORDS):
        return "fatal"
    return "retry" if any(word in name for word in _TRANSPORT_WORDS) else "fatal"


def interrupted(error: BaseException) -> bool:
    """Whether a request failed only because the run is being stopped."""
    return isinstance(error, S3RequestError) and error.transport == INTERRUPTED


def backoff(attempt: int, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before attempt ``attempt + 1``: full jitter under an exponential cap.

    Full jitter spreads a crowd of failed requests evenly, so they do not
    come back in step (AWS's "Exponential Backoff And Jitter").
    """
    return rng() * min(BACKOFF_CAP, BACKOFF_BASE * float(2**attempt))


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``retries`` more attempts, within ``window`` seconds of the first."""

    retries: int = DEFAULT_RETRIES
    window: float = DEFAULT_WINDOW
    timeout: float = DEFAULT_TIMEOUT
    """Seconds an attempt may go without an answer, plus its body's size at SLOWEST_RATE."""
    max_requests: float | None = None
    """Requests started per second at most, across the run (--max-requests)."""
    max_bandwidth: float | None = None
    """Body bytes started per second at most, across the run (--max-bandwidth)."""
    shared: SharedRates | None = None
    """The buckets of those two limits when several processes share them (put's workers)."""

    def attempt_timeout(self, size: int) -> float:
        """How long one attempt with a body of ``size`` bytes may take."""
        return self.timeout + size / SLOWEST_RATE


_tally: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("tally", default=None)


@contextlib.contextmanager
def counting() -> Iterator[list[int]]:
    """Count, on this thread, the retries of every request made inside; ``[retries]``.

    A record's ``attempts`` is one plus the retries its requests needed; the
    requests themselves are made deep below the record (listings, parts).
    """
    tally = [0]
    token = _tally.set(tally)
    try:
        yield tally
    finally:
        _tally.reset(token)


def note(attempts: int) -> None:
    """Add a request's retries (attempts beyond its first) to this thread's tally, if counting."""
    tally = _tally.get()
    if tally is not None and attempts > 1:
        tally[0] += attempts - 1
