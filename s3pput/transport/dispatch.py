"""The Dispatcher: every request put sends runs through it, with retries, a breaker, a throttle.

It starts each attempt of a request, waits for none (an attempt calls back),
starts retries on its own thread when their backoff is over, cancels an
attempt past its deadline, holds requests while the endpoint is down and
fails them with one clear error when it stays down. What to do with each
outcome is the policy's (retry.py, breaker.py, throttle.py); how a request is
sent is the caller's (native.py hands it a ``Start``). Thread-safe; it knows
no record and no S3 operation beyond its name.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeAlias

from s3pput import log
from s3pput.errors import S3RequestError
from s3pput.transport.breaker import Breaker
from s3pput.transport.retry import (
    CANCELLED,
    ENDPOINT_DOWN,
    INTERRUPTED,
    Kind,
    RetryPolicy,
    backoff,
    classify,
)
from s3pput.transport.shared_pace import SharedPace
from s3pput.transport.throttle import Pace, Throttle

__all__ = ["Cancel", "Dispatcher", "Handle", "Start"]

PROBE_FIRST: Final = 0.25
PROBE_MOST: Final = 5.0
_log = log.get_logger("put")


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
        shared = self.policy.shared
        self._paces = [
            (pace if pace is not None else Pace(rate), by_size)
            for rate, pace, by_size in (
                (self.policy.max_requests, None if shared is None else shared.requests, False),
                (self.policy.max_bandwidth, None if shared is None else shared.bandwidth, True),
            )
            if rate is not None
        ]
        self._guards = [pace.guard for pace, _ in self._paces if isinstance(pace, SharedPace)]

    def _paced(self, now: float, size: int) -> bool:
        """Whether the rate limits let ``size`` bytes start now; if so, spend (lock held).

        Buckets shared with other processes are checked and spent under their
        own lock too, so two processes cannot both take the last token.
        """
        with contextlib.ExitStack() as guarded:
            for guard in self._guards:
                guarded.enter_context(guard)
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
