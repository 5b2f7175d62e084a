"""The put stage's driver: one thread starts uploads and writes their results.

For small new files the cost of an upload was not Python but thread hand-offs:
each record crossed four threads (reader, worker, native callback, writer),
and every crossing is a wake-up and a fight for the GIL. Here one thread reads
records in batches, starts native uploads (which need no Python thread while
they run), turns each finished upload into its result record and writes the
results in batches. Worker threads, started only when needed, take the records
that must wait on something: comparing with an existing object, gzip, large
files, copies.

The driver keeps the promise "one output per input": every record read is
reported with its result or, after Ctrl-C, as interrupted, and after a stop
the rest of the input is read (for a while) and reported too. What it asks
of each record is a ``Lane``'s (lane.py); it knows nothing of S3 or files.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Final, NamedTuple, TypeAlias, cast

from s3pput import log
from s3pput.put.lane import Lane, NativeDone, Outcome, Started
from s3pput.records import Record

__all__ = ["Driver"]

DRAIN_SECONDS: Final = 5.0
"""How long a stopped run keeps reading its input to report what it did not start."""
WATCH_SECONDS: Final = 1.0
"""How often uploads are checked against their deadlines while the driver waits."""
FLUSH_RECORDS: Final = 512
"""Results written at once at most; fewer when nothing else is waiting."""

Emit: TypeAlias = Callable[[list[Record]], None]

_log = log.get_logger("put")


class _Batch(NamedTuple):
    records: list[Record]


class _End(NamedTuple):
    error: BaseException | None


class _Native(NamedTuple):
    token: int
    response: object
    error: BaseException | None


class _Worked(NamedTuple):
    token: int
    result: Record
    thread_ended: bool = False


class _Signal(NamedTuple):
    again: bool
    """False for the first SIGINT/SIGTERM (stop), True for the next (stop reading too)."""


_Message: TypeAlias = _Batch | _End | _Native | _Worked | _Signal
_STOP_WORKER: Final = object()


@dataclass
class _InFlight:
    record: Record
    native: Started | None = None
    overdue: bool = False


@dataclass
class Driver:
    """Run every record of ``batches`` through ``lane`` with up to ``jobs`` in flight.

    ``emit`` gets results in batches, in completion order; it may raise
    BrokenPipeError, which ends the run as "output closed".
    """

    lane: Lane
    jobs: int
    emit: Emit
    lookahead: int = 1024
    """Records read ahead of the uploads, so the listings of coming directories can start."""
    prefetch: Callable[[list[Record]], None] | None = None
    """Told of each batch as it is read (to start listing what its keys hold early)."""
    on_stop: Callable[[], None] | None = None
    """Called (on a thread of its own) at the first SIGINT/SIGTERM, to cut waits short."""
    after_starts: Callable[[], None] | None = None
    """Called once records stop being started for a while: a lane that sends records on in
    batches (to put's worker processes) sends then, instead of once per record."""
    max_bytes: int = 64 << 20
    """Bytes of native uploads in flight, beyond which no new one starts: the native
    client holds each body in memory, so 128 files of 1 MiB would cost 128 MiB."""
    _bytes: int = 0
    failed: int = 0
    _events: queue.SimpleQueue[_Message] = field(default_factory=queue.SimpleQueue)
    _room: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    _asked: bool = True
    _draining: bool = False
    _input_ended: bool = False
    _input_error: BaseException | None = None
    _waiting: deque[Record] = field(default_factory=deque)
    _in_flight: dict[int, _InFlight] = field(default_factory=dict)
    _tokens: Iterator[int] = field(default_factory=itertools.count)
    _out: list[Record] = field(default_factory=list)
    _todo: queue.SimpleQueue[object] = field(default_factory=queue.SimpleQueue)
    _workers: int = 0
    _busy: int = 0
    _signals: int = 0

    def run(self, batches: Iterable[list[Record]]) -> Outcome:
        """Upload everything; return how the run ended. Signals are handled while it runs.

        SIGINT and SIGTERM stop the run: records in flight and the rest of the
        input come out as interrupted. A second one stops reading the input; a
        third raises KeyboardInterrupt.
        """
        if self.jobs < 1:
            raise ValueError("jobs must be at least 1")
        reader = threading.Thread(
            target=self._read, args=(batches,), name="s3pput-reader", daemon=True
        )
        reader.start()
        with self._signals_handled():
            outcome = self._drive()
        for _ in range(self._workers):
            self._todo.put(_STOP_WORKER)
        outcome.failed = self.failed
        if self._input_error is not None and outcome.ended == "finished":
            raise self._input_error
        return outcome

    @contextlib.contextmanager
    def _signals_handled(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        for sig in previous:
            signal.signal(sig, self._on_signal)
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        """Tell the driver; SimpleQueue.put is safe in a signal handler."""
        del signum, frame
        if self._signals >= 2:  # noqa: PLR2004  # the third one means "now"
            raise KeyboardInterrupt
        self.request_stop()

    def request_stop(self) -> None:
        """Stop the run as SIGINT does, from any thread (a worker process is told by its reader).

        Safe in a signal handler: it only counts and puts on a SimpleQueue.
        """
        self._signals += 1
        self._events.put(_Signal(again=self._signals > 1))
        if self._signals == 1 and self.on_stop is not None:
            # Not here: the handler may have interrupted this thread inside a lock it takes.
            threading.Thread(target=self.on_stop, name="s3pput-stop", daemon=True).start()

    def _read(self, batches: Iterable[list[Record]]) -> None:
        """Reader thread: hand over batches when the driver asks (always, once draining)."""
        error: BaseException | None = None
        try:
            iterator = iter(batches)
            while True:
                if not self._draining:
                    self._room.acquire()
                batch = next(iterator, None)
                if batch is None:
                    break
                if batch:
                    self._events.put(_Batch(batch))
                else:
                    self._room.release()  # nothing to hand over: read on
        except Exception as exc:  # noqa: BLE001  # re-raised by run() after what was read
            error = exc
        self._events.put(_End(error))

    def _drive(self) -> Outcome:
        try:
            while True:
                self._start_waiting()
                if self.after_starts is not None:
                    self.after_starts()
                if self._input_ended and not self._waiting and not self._in_flight:
                    break
                if (
                    not self._asked
                    and not self._input_ended
                    and len(self._waiting) < self.lookahead
                ):
                    self._asked = True
                    self._room.release()
                if self._out and (len(self._out) >= FLUSH_RECORDS or self._events.empty()):
                    self._flush()
                event = self._next_event()
                if type(event) is _Signal:
                    return self._interrupt()
                if event is not None:
                    self._handle(event)
            self._flush()
        except BrokenPipeError:
            return self._broken_pipe()
        return Outcome()

    def _next_event(self) -> _Message | None:
        """The next message, or None after WATCH_SECONDS (then deadlines are checked)."""
        try:
            return self._events.get(timeout=WATCH_SECONDS)
        except queue.Empty:
            self._cancel_overdue()
            return None

    def _handle(self, event: _Message) -> None:
        if type(event) is _Native:
            self._native_finished(event)
        elif type(event) is _Batch:
            self._asked = False
            self._waiting.extend(event.records)
            if self.prefetch is not None:
                self.prefetch(event.records)
        elif type(event) is _Worked:
            self._busy -= 1
            self._workers -= event.thread_ended
            if self._in_flight.pop(event.token, None) is not None:
                self._result(event.result)
        elif type(event) is _End:
            self._input_ended = True
            self._input_error = event.error

    def _start_waiting(self) -> None:
        """Start records until ``jobs`` are in flight; results known at once need no slot."""
        while self._waiting and len(self._in_flight) < self.jobs and self._bytes < self.max_bytes:
            record = self._waiting.popleft()
            token = next(self._tokens)
            try:
                result = self.lane.begin(record, self._native_callback(token))
                if isinstance(result, Started):
                    self._in_flight[token] = _InFlight(record, result)
                    self._bytes += result.size
                    continue
            except Exception as exc:  # noqa: BLE001  # a bug must not lose the record
                result = self.lane.crashed(record, exc)
            if result is not None:
                self._result(result)
                continue
            self._in_flight[token] = _InFlight(record)
            self._to_worker(token, record)

    def _native_callback(self, token: int) -> NativeDone:
        events = self._events

        def done(response: object, error: BaseException | None) -> None:
            events.put(_Native(token, response, error))

        return done

    def _native_finished(self, event: _Native) -> None:
        flight = self._in_flight.pop(event.token, None)
        if flight is None or flight.native is None:
            return  # reported already (interrupted)
        self._bytes -= flight.native.size
        response, error = event.response, event.error
        if flight.overdue and error is not None:
            error = TimeoutError("PutObject: no answer before its deadline; cancelled")
        try:
            result = flight.native.finish(response, error)
        except Exception as exc:  # noqa: BLE001  # a bug must not lose the record
            result = self.lane.crashed(flight.record, exc)
        self._result(result)

    def _to_worker(self, token: int, record: Record) -> None:
        self._busy += 1
        if self._busy > self._workers:
            self._workers += 1
            threading.Thread(
                target=self._work, name=f"s3pput-worker-{self._workers}", daemon=True
            ).start()
        self._todo.put((token, record))

    def _work(self) -> None:
        """Worker thread: run ``process`` for records that need a thread to wait on."""
        while True:
            message = self._todo.get()
            if message is _STOP_WORKER:
                return
            token, record = cast("tuple[int, Record]", message)
            try:
                result = self.lane.process(record)
            except Exception as exc:  # noqa: BLE001  # a bug must not lose the record
                result = self.lane.crashed(record, exc)
            except BaseException as exc:  # noqa: BLE001  # ends the thread, not the record
                # SystemExit or the like from deep inside: this thread ends, the record does
                # not vanish with it, and the driver starts another thread when needed.
                crashed = self.lane.crashed(record, RuntimeError(repr(exc)))
                self._events.put(_Worked(token, crashed, thread_ended=True))
                return
            self._events.put(_Worked(token, result))

    def _cancel_overdue(self) -> None:
        now = time.monotonic()
        for flight in self._in_flight.values():
            if flight.native is not None and not flight.overdue and flight.native.deadline < now:
                flight.overdue = True
                flight.native.cancel()

    def _result(self, result: Record) -> None:
        self.failed += result.status == "failed"
        self._out.append(result)
        if len(self._out) >= FLUSH_RECORDS:
            self._flush()

    def _flush(self) -> None:
        if self._out:
            self.emit(self._out)  # on BrokenPipeError they stay, counted as unreported
            self._out = []

    def _interrupt(self) -> Outcome:
        """Report everything in flight and waiting as interrupted, then the unread input."""
        _log.warning("interrupted", in_flight=len(self._in_flight))
        stopped = [flight.record for _, flight in sorted(self._in_flight.items())]
        self._in_flight.clear()
        waiting, self._waiting = self._waiting, deque()
        outcome = Outcome("interrupted")
        try:
            self._flush()
            self.emit([self.lane.interrupted(record) for record in stopped])
            self.emit([self.lane.interrupted(record, begun=False) for record in waiting])
            outcome.read_everything = self._drain(
                lambda batch: self.emit([self.lane.interrupted(r, begun=False) for r in batch])
            )
        except BrokenPipeError:
            return outcome
        if not outcome.read_everything:
            _log.warning("input not read to its end: lines after the last result have none")
        return outcome

    def _broken_pipe(self) -> Outcome:
        """The output's reader went away: count what could not be reported, and log it."""
        unread = 0

        def count(batch: list[Record]) -> None:
            nonlocal unread
            unread += len(batch)

        outcome = Outcome("output closed")
        outcome.read_everything = self._drain(count)
        outcome.unreported = len(self._out) + len(self._in_flight) + len(self._waiting) + unread
        _log.error(
            "output closed before every result was written",
            unreported=outcome.unreported,
            input_read_to_end=outcome.read_everything,
        )
        return outcome

    def _drain(self, report: Callable[[list[Record]], None]) -> bool:
        """Read the rest of the input for up to DRAIN_SECONDS; True if it ended."""
        if self._input_ended:
            return True
        self._draining = True
        self._room.release()
        deadline = time.monotonic() + DRAIN_SECONDS
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                event = self._events.get(timeout=remaining)
            except queue.Empty:
                break
            if type(event) is _Batch:
                report(event.records)
            elif type(event) is _End:
                return True
            elif type(event) is _Signal:
                break
        return False
