"""Retries, a circuit breaker and a throttle for every request put sends to S3.

The native client can retry on its own, but out of sight: it says neither how
many attempts a request took nor why it gave up, has no cap on the time a
record may take, and cannot tell a dead endpoint (stop trying every record)
from a busy one (slow down). So its retries are off, and every attempt's
outcome passes through one ``Dispatcher`` here:

- what is worth retrying (resets, refusals, timeouts, 500, 502, 503, 504,
  429, RequestTimeout) is tried again after an exponential backoff with full
  jitter, up to ``retries`` times and ``window`` seconds after the first try;
  what is not (403, 404, 400...) fails at once;
- answers that say "too fast" (503 SlowDown, 429) halve the requests allowed
  in flight, which then grow back by one per round of successes (AIMD, as TCP
  does), so a throttled run slows down instead of hammering;
- a run of failures that says the endpoint is down opens the breaker: no
  request is sent while a probe checks the endpoint with growing pauses;
  requests wait, spending none of their attempts, and go on when it answers.
  After ``window`` seconds down, waiting and new requests fail at once with
  one clear error, so 10,000 records against a dead server end in about a
  minute; probes go on, and a server that comes back is used again.

The policy (``classify``, ``backoff``, ``Breaker``, ``Throttle``) is pure
and clocked from outside, so it is tested without a network.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, TypeAlias

from s3pput import log
from s3pput.errors import S3RequestError

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WINDOW",
    "Breaker",
    "Dispatcher",
    "Handle",
    "RetryPolicy",
    "Throttle",
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
FIRST_CONTACT_WINDOW: Final = 15.0
"""How long an endpoint that never answered this run may stay down before waiting
requests fail: a wrong --endpoint-url should not cost a minute."""
FAILURES_TO_OPEN: Final = 5
"""Failures in a row, with no success between, that make the endpoint count as down."""
PROBE_FIRST: Final = 0.25
PROBE_MOST: Final = 5.0
THROTTLE_FLOOR: Final = 1.0
THROTTLE_CEILING: Final = 4096.0
"""A limit grown back past this is lifted altogether."""
HALVE_EVERY: Final = 0.5
"""One burst of throttled answers halves the limit once, not once per answer."""

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

_log = log.get_logger("put")


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

    def attempt_timeout(self, size: int) -> float:
        """How long one attempt with a body of ``size`` bytes may take."""
        return self.timeout + size / SLOWEST_RATE


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


class Cancel(Protocol):
    """What starting an attempt gives back: a way to stop it (it then calls back failed)."""

    def __call__(self) -> None:
        """Stop the attempt."""


Start: TypeAlias = Callable[[Callable[[object, S3RequestError | None], None]], Cancel]
"""Starts one attempt; the attempt calls its argument with (answer, None) or (None, failure)."""
Final_: TypeAlias = Callable[[object, S3RequestError | None, int], None]
"""Called once per request with (answer, failure, attempts)."""


@dataclass(eq=False, slots=True)
class _Job:
    start: Start
    finished: Final_
    size: int
    first: float
    operation: str = "request"
    attempts: int = 0
    cancel: Cancel | None = None
    attempt_deadline: float = math.inf
    timed_out: bool = False
    cancelled: bool = False
    over: bool = False
    last_error: S3RequestError | None = None


@dataclass(eq=False)
class Handle:
    """A request the Dispatcher runs: cancel it (it then fails) or read its deadline."""

    _job: _Job
    _dispatcher: Dispatcher
    deadline: float
    """time.monotonic() after which the caller may give up on it (a backstop)."""

    def cancel(self) -> None:
        """Stop the request and its retries; it finishes failed."""
        self._dispatcher.cancel(self._job)


@dataclass(eq=False)
class Dispatcher:
    """Run requests with retries, a breaker and a throttle; thread-safe.

    ``probe`` tells whether the endpoint answers at all (one cheap request
    with no retries); it runs on its own thread while the breaker is open.
    """

    policy: RetryPolicy
    probe: Callable[[], bool]
    clock: Callable[[], float] = time.monotonic
    rng: Callable[[], float] = random.random
    retried: int = 0
    """Attempts made beyond the first, in the whole run (for the log)."""
    breaker: Breaker = field(init=False)
    throttle: Throttle = field(default_factory=Throttle)
    _lock: threading.Condition = field(
        default_factory=lambda: threading.Condition(threading.Lock())
    )
    _ready: deque[_Job] = field(default_factory=deque)
    """Jobs that may start as soon as the breaker and the throttle let them."""
    _later: list[tuple[float, int, _Job]] = field(default_factory=list)
    """Jobs waiting for their backoff to pass (a heap by due time)."""
    _running: set[_Job] = field(default_factory=set)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    _thread: threading.Thread | None = None
    _prober: threading.Thread | None = None
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.breaker = Breaker(self.policy.window)
        self._paces = [
            (Pace(rate), by_size)
            for rate, by_size in (
                (self.policy.max_requests, False),
                (self.policy.max_bandwidth, True),
            )
            if rate is not None
        ]

    def _paced(self, now: float, size: int) -> bool:
        """Whether the rate limits let ``size`` bytes start now; if so, spend (lock held)."""
        if any(pace.wait(now) > 0 for pace, _ in self._paces):
            return False
        for pace, by_size in self._paces:
            pace.take(now, size if by_size else 1)
        return True

    def submit(
        self, start: Start, finished: Final_, size: int = 0, operation: str = "request"
    ) -> Handle:
        """Run ``start`` until it succeeds or gives up; ``finished`` gets the outcome once.

        The first attempt starts on the caller's thread when nothing holds it
        back; retries start on the dispatcher's thread. ``finished`` runs on
        whatever thread the last attempt ended on, and must not block.
        """
        now = self.clock()
        job = _Job(start, finished, size, now, operation)
        deadline = now + self.policy.window + 2 * self.policy.attempt_timeout(size)
        with self._lock:
            state = self.breaker.state(now)
            go = (
                state == "closed"
                and not self._ready
                and self.throttle.allows(len(self._running))
                and self._paced(now, size)
            )
            if state == "down" or self._stopped:
                job.over = True
            elif not go:
                self._ready.append(job)
                self._wake(notify=True)
        if job.over:
            if self._stopped:
                finished(None, S3RequestError("interrupted", transport=INTERRUPTED), 0)
            else:
                finished(None, self._down_failure(), 0)
        elif go:
            self._attempt(job)
        return Handle(job, self, deadline)

    def cancel(self, job: _Job) -> None:
        """Stop a job: its running attempt is cancelled, or it leaves the queues at once."""
        with self._lock:
            if job.over:
                return
            job.cancelled = True
            cancel = job.cancel if job in self._running else None
            if cancel is None:
                job.over = True
                self._discard(job)
        if cancel is not None:
            cancel()
        else:
            job.finished(None, S3RequestError("cancelled", transport=CANCELLED), job.attempts)

    def stop(self) -> None:
        """The run is over: no more retries; waiting jobs fail as interrupted."""
        with self._lock:
            self._stopped = True
            waiting = [*self._ready, *(job for _, _, job in self._later)]
            self._ready.clear()
            self._later.clear()
            for job in waiting:
                job.over = True
            self._lock.notify_all()
        for job in waiting:
            job.finished(None, S3RequestError("interrupted", transport=INTERRUPTED), job.attempts)

    def _attempt(self, job: _Job) -> None:
        """Start one attempt of ``job`` (the caller made room for it)."""
        with self._lock:
            job.attempts += 1
            job.timed_out = False
            job.attempt_deadline = self.clock() + self.policy.attempt_timeout(job.size)
            self._running.add(job)
            self.retried += job.attempts > 1
            attempt = job.attempts
            self._wake(notify=False)
        try:
            cancel = job.start(lambda answer, error: self._ended(job, answer, error))
        except Exception as exc:  # noqa: BLE001  # a request that cannot even be built fails
            self._ended(job, None, S3RequestError(f"could not send: {exc}"))
            return
        with self._lock:
            if job in self._running and job.attempts == attempt:  # not over already
                job.cancel = cancel

    def _ended(self, job: _Job, answer: object, error: S3RequestError | None) -> None:
        """One attempt is over: finish the job, or schedule its next attempt."""
        now = self.clock()
        if error is not None and job.timed_out:
            error = S3RequestError(
                f"{job.operation}: no answer within {self.policy.attempt_timeout(job.size):.0f} s"
            )
            error.transport = "TIMEOUT"
        kind = classify(error)
        again = False
        with self._lock:
            self._running.discard(job)
            job.cancel = None
            self._learn(kind, error, now)
            if kind in {"retry", "throttle"} and not job.cancelled and not self._stopped:
                job.last_error = error
                delay = backoff(job.attempts - 1, self.rng)
                again = (
                    job.attempts <= self.policy.retries
                    and now + delay - job.first < self.policy.window
                )
                if again:
                    heapq.heappush(self._later, (now + delay, next(self._order), job))
            if not again:
                job.over = True
            self._wake(notify=again or bool(self._ready))
        if again:
            return
        if error is not None:
            error = self._gave_up(job, error)
        job.finished(answer, error, job.attempts)

    def _learn(self, kind: Kind, error: S3RequestError | None, now: float) -> None:
        """Feed an outcome to the breaker and the throttle (lock held)."""
        if kind == "throttle":
            before = self.throttle.limit
            self.throttle.slow_down(now, len(self._running) + 1)
            if self.throttle.limit < before:
                _log.info(
                    "slowing down", in_flight_limit=int(self.throttle.limit), error=str(error)
                )
            self._answered()
        elif kind == "retry" and error is not None:
            if self.breaker.failed(now, str(error)):
                _log.warning("endpoint not answering; holding requests", error=str(error))
                self._start_prober()
        else:
            self.throttle.succeeded()
            self._answered()

    def _answered(self) -> None:
        """The endpoint answered: close the breaker, and if it was open say so (lock held)."""
        if self.breaker.succeeded():
            _log.warning("endpoint answers again; going on")
            self._lock.notify_all()  # what waited for it may start

    def _gave_up(self, job: _Job, error: S3RequestError) -> S3RequestError:
        """The error a job ends with, saying how hard it was tried."""
        if job.attempts <= 1 or classify(error) == "fatal":
            error.attempts = job.attempts
            return error
        final = S3RequestError(
            f"{error} (gave up after {_attempts(job.attempts)}"
            f" in {self.clock() - job.first:.0f} s)",
            error.code,
            transport=error.transport,
        )
        final.attempts = job.attempts
        return final

    def _down_failure(self, attempts: int = 0) -> S3RequestError:
        """The error of a request failed because the endpoint is down."""
        now = self.clock()
        down = now - (self.breaker.opened or now)
        tried = f"gave up after {_attempts(attempts)}" if attempts else "not sent"
        failure = S3RequestError(
            f"endpoint down for {down:.0f} s; {tried} (last error: {self.breaker.last_error})",
            transport=ENDPOINT_DOWN,
        )
        failure.attempts = attempts
        return failure

    def _discard(self, job: _Job) -> None:
        if job in self._ready:
            self._ready.remove(job)
        kept = [entry for entry in self._later if entry[2] is not job]
        if len(kept) != len(self._later):
            self._later = kept
            heapq.heapify(self._later)

    def _wake(self, *, notify: bool) -> None:
        """Make sure the dispatcher's thread runs; ``notify`` it when it has work (lock held).

        Not for every attempt: a wake-up per request is a thread hop and a
        fight for the GIL, and the thread checks attempts' deadlines each
        second anyway.
        """
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="s3pput-retry", daemon=True)
            self._thread.start()
        if notify:
            self._lock.notify_all()

    def _loop(self) -> None:
        """Dispatcher thread: start due retries, time out attempts, fail what waits too long."""
        while True:
            with self._lock:
                if self._stopped:
                    return
                now = self.clock()
                starting, failing, overdue = self._due(now)
                if not (starting or failing or overdue):
                    self._lock.wait(self._sleep(now))
                    continue
            for job, failure in failing:
                job.finished(None, failure, job.attempts)
            for cancel in overdue:
                cancel()
            for job in starting:
                self._attempt(job)

    def _due(
        self, now: float
    ) -> tuple[list[_Job], list[tuple[_Job, S3RequestError]], list[Cancel]]:
        """(jobs to start, jobs to fail, attempts to cancel) at ``now`` (lock held)."""
        while self._later and self._later[0][0] <= now:
            self._ready.append(heapq.heappop(self._later)[2])
        state = self.breaker.state(now)
        failing = self._expired(now, state)
        starting: list[_Job] = []
        while (
            state == "closed"
            and self._ready
            and self.throttle.allows(len(self._running) + len(starting))
            and self._paced(now, self._ready[0].size)
        ):
            starting.append(self._ready.popleft())
        overdue: list[Cancel] = []
        for job in self._running:
            if job.cancel is not None and not job.timed_out and now > job.attempt_deadline:
                job.timed_out = True
                overdue.append(job.cancel)
        return starting, failing, overdue

    def _expired(self, now: float, state: str) -> list[tuple[_Job, S3RequestError]]:
        """Jobs that may wait no longer: all of them when down, else those past their window."""
        failing: list[tuple[_Job, S3RequestError]] = []
        for job in list(self._ready):
            if state == "down" or now - job.first > self.policy.window:
                self._ready.remove(job)
                job.over = True
                if state == "down" or job.last_error is None:
                    failing.append((job, self._down_failure(job.attempts)))
                else:
                    failing.append((job, self._gave_up(job, job.last_error)))
        return failing

    def _sleep(self, now: float) -> float:
        """How long the thread may sleep before something falls due (lock held)."""
        until = 1.0 if self._later == [] else min(1.0, self._later[0][0] - now)
        if self._ready and self._paces:
            until = min(until, max(pace.wait(now) for pace, _ in self._paces))
        return max(0.01, until)

    def _start_prober(self) -> None:
        """Start probing the endpoint, unless a probe thread runs already (lock held)."""
        if self._prober is None or not self._prober.is_alive():
            self._prober = threading.Thread(
                target=self._probe_loop, name="s3pput-probe", daemon=True
            )
            self._prober.start()

    def _probe_loop(self) -> None:
        """Probe with growing pauses until the endpoint answers; then release what waits."""
        pause = PROBE_FIRST
        while True:
            with self._lock:
                if self._stopped or self.breaker.opened is None:
                    self._prober = None
                    return
                self._lock.wait(pause)
            alive = False
            with contextlib.suppress(Exception):  # a probe that fails is an answer: not yet
                alive = self.probe()
            with self._lock:
                if alive:
                    self._answered()
                    self._prober = None
                    return
            pause = min(PROBE_MOST, pause * 2)


def _attempts(count: int) -> str:
    return f"{count} attempt" if count == 1 else f"{count} attempts"


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
