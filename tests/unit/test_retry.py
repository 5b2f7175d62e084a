"""The retry policy: what is retried, how long it waits, the breaker and the throttle.

The Dispatcher is driven here by attempts that answer from a script, so its
decisions are checked without a network; the fault suite (test_faults.py)
checks the same behaviour against the real server.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import pytest

from s3pput.errors import S3RequestError
from s3pput.transport import dispatch, retry, throttle
from s3pput.transport.breaker import FAILURES_TO_OPEN, FIRST_CONTACT_WINDOW, Breaker
from s3pput.transport.dispatch import Dispatcher
from s3pput.transport.retry import RetryPolicy, backoff, classify
from s3pput.transport.throttle import Throttle


def error(code: str | None = None, transport: str | None = None) -> S3RequestError:
    """An error as crt.py raises it: S3's code, or the native error's name."""
    return S3RequestError(f"Op: {code or transport}", code, transport=transport)


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (None, "ok"),
        (error("SlowDown"), "throttle"),
        (error("503"), "throttle"),
        (error("429"), "throttle"),
        (error("InternalError"), "retry"),
        (error("500"), "retry"),
        (error("502"), "retry"),
        (error("504"), "retry"),
        (error("RequestTimeout"), "retry"),
        (error("AccessDenied"), "fatal"),
        (error("NoSuchBucket"), "fatal"),
        (error("403"), "fatal"),
        (error("404"), "fatal"),
        (error("400"), "fatal"),
        (error("SignatureDoesNotMatch"), "fatal"),
        (error(transport="AWS_IO_SOCKET_CONNECTION_REFUSED"), "retry"),
        (error(transport="AWS_ERROR_HTTP_CONNECTION_CLOSED"), "retry"),
        (error(transport="AWS_IO_SOCKET_TIMEOUT"), "retry"),
        (error(transport="AWS_IO_DNS_QUERY_FAILED"), "retry"),
        (error(transport="AWS_IO_TLS_ERROR_NEGOTIATION_FAILURE"), "fatal"),
        (error(transport="AWS_ERROR_FILE_INVALID_PATH"), "fatal"),
        (error(transport=retry.INTERRUPTED), "fatal"),
        (error(), "fatal"),
    ],
)
def test_classify(failure: S3RequestError | None, kind: str) -> None:
    """Resets, 5xx and throttles are retried; refusals and local problems are final."""
    assert classify(failure) == kind


def test_backoff_is_full_jitter_under_a_growing_cap() -> None:
    """The wait is a random share of a cap that doubles up to BACKOFF_CAP."""
    assert [backoff(n, lambda: 1.0) for n in range(8)] == [0.25, 0.5, 1, 2, 4, 8, 10, 10]
    assert backoff(3, lambda: 0.0) == 0
    assert backoff(3, lambda: 0.5) == 1


def test_breaker_opens_after_a_run_of_failures_and_goes_down_after_the_window() -> None:
    """Open after FAILURES_TO_OPEN failures, down after the window, closed by an answer."""
    breaker = Breaker(window=30)
    breaker.succeeded()
    for n in range(FAILURES_TO_OPEN - 1):
        assert not breaker.failed(float(n), "refused")
    assert breaker.state(10) == "closed"
    assert breaker.failed(10, "refused")
    assert breaker.state(39) == "open"
    assert breaker.state(41) == "down"
    assert breaker.succeeded()
    assert breaker.state(41) == "closed"


def test_a_success_between_failures_keeps_the_breaker_closed() -> None:
    """Scattered failures (a flaky link) never open it."""
    breaker = Breaker()
    for n in range(3 * FAILURES_TO_OPEN):
        if n % FAILURES_TO_OPEN == FAILURES_TO_OPEN - 1:
            breaker.succeeded()
        else:
            breaker.failed(n, "reset")
    assert breaker.state(100) == "closed"


def test_an_endpoint_never_reached_is_down_sooner() -> None:
    """A wrong endpoint fails the run after FIRST_CONTACT_WINDOW, not the whole window."""
    breaker = Breaker(window=60)
    for _ in range(FAILURES_TO_OPEN):
        breaker.failed(0, "refused")
    assert breaker.state(FIRST_CONTACT_WINDOW + 1) == "down"


def test_throttle_halves_once_per_burst_and_grows_back() -> None:
    """AIMD: halved per burst of throttles, never below one, lifted once grown back."""
    throttle = Throttle()
    assert throttle.allows(10_000)
    throttle.slow_down(0.0, in_flight=64)
    throttle.slow_down(0.1, in_flight=64)  # the same burst
    assert throttle.limit == 32
    throttle.slow_down(1.0, in_flight=32)
    assert throttle.limit == 16
    for _ in range(16):
        throttle.succeeded()
    assert 16.9 < throttle.limit < 17.1
    for _ in range(100):
        throttle.slow_down(100.0 + _, in_flight=1)
    assert throttle.limit == 1
    assert throttle.allows(0)
    assert not throttle.allows(1)
    while not math.isinf(throttle.limit):
        throttle.succeeded()
    assert throttle.allows(10_000)


class Script:
    """Attempts that answer, in order, from a list: None for success, else an error."""

    def __init__(self, answers: list[S3RequestError | None]) -> None:
        self.answers = answers
        self.started = 0
        self.outcome: tuple[object, S3RequestError | None, int] | None = None
        self.over = threading.Event()

    def start(self, done: Callable[[object, S3RequestError | None], None]) -> dispatch.Cancel:
        """Start an attempt: it answers the next scripted answer from another thread."""
        answer = self.answers[min(self.started, len(self.answers) - 1)]
        self.started += 1
        threading.Thread(target=done, args=(None if answer else "ok", answer)).start()
        return lambda: None

    def finished(self, answer: object, failure: S3RequestError | None, attempts: int) -> None:
        """Keep the request's outcome."""
        self.outcome = (answer, failure, attempts)
        self.over.set()

    def wait(self) -> tuple[object, S3RequestError | None, int]:
        """The outcome, once the request is over."""
        assert self.over.wait(10)
        assert self.outcome is not None
        return self.outcome


def fast_dispatcher(**policy: float) -> Dispatcher:
    """A dispatcher whose backoffs are zero, so scripts run at once."""
    return Dispatcher(RetryPolicy(**policy), probe=lambda: True, rng=lambda: 0.0)  # type: ignore[arg-type]


def test_retried_until_it_succeeds_counting_attempts() -> None:
    """Two failures worth retrying, then success: three attempts, no error."""
    script = Script([error("500"), error(transport="AWS_IO_SOCKET_CLOSED"), None])
    fast_dispatcher().submit(script.start, script.finished)
    answer, failure, attempts = script.wait()
    assert (answer, failure, attempts) == ("ok", None, 3)


def test_a_refusal_is_not_retried() -> None:
    """AccessDenied ends the request after one attempt."""
    script = Script([error("AccessDenied"), None])
    fast_dispatcher().submit(script.start, script.finished)
    _, failure, attempts = script.wait()
    assert failure is not None
    assert failure.code == "AccessDenied"
    assert (attempts, failure.attempts, script.started) == (1, 1, 1)


def test_retries_stop_at_the_limit_and_say_so() -> None:
    """--retries 2 means three attempts, and the error says so."""
    script = Script([error("InternalError")])
    fast_dispatcher(retries=2).submit(script.start, script.finished)
    _, failure, attempts = script.wait()
    assert attempts == 3
    assert script.started == 3
    assert failure is not None
    assert "gave up after 3 attempts" in str(failure)
    assert failure.code == "InternalError"


def test_retries_stop_at_the_window() -> None:
    """No retry starts past the window, whatever --retries allows."""
    script = Script([error("500")])
    dispatcher = Dispatcher(RetryPolicy(retries=100, window=0.6), probe=lambda: True)
    dispatcher.rng = lambda: 1.0  # waits 0.25 s, then 0.5 s would end past the window
    dispatcher.submit(script.start, script.finished)
    _, failure, attempts = script.wait()
    assert failure is not None
    assert attempts == 2


def test_a_stalled_attempt_is_cancelled_and_tried_again() -> None:
    """An attempt with no answer past its timeout is cancelled and retried."""
    cancelled = threading.Event()
    calls = []

    def start(done: Callable[[object, S3RequestError | None], None]) -> dispatch.Cancel:
        calls.append(time.monotonic())
        if len(calls) == 1:

            def cancel() -> None:
                cancelled.set()
                done(None, error(transport="AWS_ERROR_S3_CANCELED"))

            return cancel
        done("ok", None)
        return lambda: None

    script = Script([])
    dispatcher = Dispatcher(RetryPolicy(timeout=0.3), probe=lambda: True, rng=lambda: 0.0)
    dispatcher.submit(start, script.finished)
    answer, failure, attempts = script.wait()
    assert cancelled.is_set()
    assert (answer, failure, attempts) == ("ok", None, 2)


def test_a_dead_endpoint_holds_requests_then_fails_them_fast() -> None:
    """Requests wait (spending no attempts) while down, then fail; later ones are not sent."""
    alive = threading.Event()
    dispatcher = Dispatcher(RetryPolicy(window=1.0), probe=alive.is_set, rng=lambda: 0.0)
    dispatcher.breaker.answered = True  # it answered earlier in the run
    refused = error(transport="AWS_IO_SOCKET_CONNECTION_REFUSED")
    scripts = [Script([refused]) for _ in range(FAILURES_TO_OPEN + 3)]
    for script in scripts:
        dispatcher.submit(script.start, script.finished)
    outcomes = [script.wait() for script in scripts]
    attempts = sum(script.started for script in scripts)
    assert attempts < 3 * len(scripts)  # held while down, not retried to the end each
    assert all(
        failure is not None and "endpoint down" in str(failure) for _, failure, _ in outcomes
    )
    late = Script([None])
    dispatcher.submit(late.start, late.finished)
    _, failure, attempts = late.wait()
    assert failure is not None
    assert attempts == 0
    assert late.started == 0


def test_requests_held_while_down_go_on_when_it_answers() -> None:
    """A probe that gets an answer releases every waiting request: nothing is lost."""
    alive = threading.Event()
    dispatcher = Dispatcher(RetryPolicy(window=30.0), probe=alive.is_set, rng=lambda: 0.0)
    refused = error(transport="AWS_IO_SOCKET_CONNECTION_REFUSED")
    # Each request alone is refused often enough to open the breaker: were it
    # answered sooner, on a loaded machine one request could run all its
    # attempts before the others start, and its answer would reset the count.
    failing = [Script([refused] * FAILURES_TO_OPEN + [None]) for _ in range(FAILURES_TO_OPEN)]
    for script in failing:
        dispatcher.submit(script.start, script.finished)
    deadline = time.monotonic() + 5
    while dispatcher.breaker.opened is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert dispatcher.breaker.opened is not None
    waiting = Script([None])
    dispatcher.submit(waiting.start, waiting.finished)
    time.sleep(0.5)
    assert waiting.started == 0  # held: the breaker is open
    alive.set()
    assert waiting.wait()[1] is None
    assert all(script.wait()[1] is None for script in failing)


def test_stop_fails_what_waits_as_interrupted() -> None:
    """Ctrl-C: a request waiting for its retry fails at once, marked interrupted."""
    dispatcher = Dispatcher(RetryPolicy(), probe=lambda: False, rng=lambda: 1.0)
    script = Script([error("503")])
    dispatcher.submit(script.start, script.finished)
    time.sleep(0.05)
    dispatcher.stop()
    _, failure, _ = script.wait()
    assert failure is not None
    assert retry.interrupted(failure)


def test_counting_adds_the_retries_of_requests_made_inside() -> None:
    """A record's tally is the retries of the requests made for it, on its thread."""
    retry.note(3)  # not counting: ignored
    with retry.counting() as tally:
        retry.note(1)
        retry.note(3)
        retry.note(2)
    assert tally == [3]


def test_pace_keeps_to_its_rate_and_lets_a_big_piece_run_into_debt() -> None:
    """10 a second: one at once after a pause, then one every 0.1 s; 50 at once then waits 5 s."""
    pace = throttle.Pace(10.0)
    assert pace.wait(0.0) == 0
    pace.take(0.0, 1)
    assert pace.wait(0.0) > 0
    assert pace.wait(0.1) == 0
    pace.take(0.1, 50)
    assert 4.9 < pace.wait(0.1) < 5.1
    assert pace.wait(5.2) == 0


def test_the_dispatcher_starts_no_more_than_max_requests_a_second() -> None:
    """40 requests at 20 a second: spread over about two seconds, never 23 in one second."""
    starts: list[float] = []
    lock = threading.Lock()

    def start(done: Callable[[object, S3RequestError | None], None]) -> dispatch.Cancel:
        with lock:
            starts.append(time.monotonic())
        done("ok", None)
        return lambda: None

    over = threading.Semaphore(0)
    dispatcher = Dispatcher(RetryPolicy(max_requests=20), probe=lambda: True)
    for _ in range(40):
        dispatcher.submit(start, lambda *_: over.release())
    for _ in range(40):
        assert over.acquire(timeout=10)
    assert 1.7 < starts[-1] - starts[0] < 3.0
    assert max(sum(1 for t in starts if s <= t < s + 1) for s in starts) <= 23
