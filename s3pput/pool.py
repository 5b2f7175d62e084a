"""Run a per-record function on N threads; yield results in completion order.

The pool keeps the promise "one output per input": every record it has read is
either reported with its result, or handed back by ``stop()`` so the caller can
report it as interrupted; after a stop, ``unstarted()`` hands over the rest of
the input too. Nothing is read before a worker is free for it, so a stop finds
at most ``jobs`` records in flight.
"""

from __future__ import annotations

import functools
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final, Generic, TypeVar, cast

__all__ = ["Pool"]

_In = TypeVar("_In")
_Out = TypeVar("_Out")


@dataclass(frozen=True)
class _Done:
    """The feeder read everything (``error`` set when reading the input failed)."""

    error: BaseException | None = None


_STOP: Final = object()


class Pool(Generic[_In, _Out]):
    """A bounded, interruptible, completion-ordered map over an iterable.

    ``work`` should not raise; if it does, ``on_error`` turns the exception
    into that item's result, so a record is never lost to a bug. ``quick``,
    when given, is tried first on the reading thread: a result it returns
    skips the hand-off to a worker (a second run's skips are mostly that).
    ``start``, when given, may take an item and promise to call back with its
    result from any thread (an upload the native client finishes on its own);
    no worker thread waits for it.

    Workers are daemon threads, so Ctrl-C does not wait for a long upload to
    end: ``stop()`` returns the records in flight and the caller reports them.
    """

    def __init__(
        self,
        work: Callable[[_In], _Out],
        jobs: int,
        on_error: Callable[[_In, Exception], _Out],
        quick: Callable[[_In], _Out | None] | None = None,
        start: Callable[[_In, Callable[[_Out], None]], bool] | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self._work = work
        self._quick = quick
        self._start = start
        self._on_error = on_error
        self._jobs = jobs
        self._slots = threading.Semaphore(jobs)
        self._todo: queue.SimpleQueue[tuple[int, _In] | object] = queue.SimpleQueue()
        self._results: queue.SimpleQueue[tuple[int, _Out] | _Done] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._in_flight: dict[int, _In] = {}
        self._stopping = threading.Event()
        self._leftovers: queue.SimpleQueue[_In | object] = queue.SimpleQueue()
        self.read_everything = False
        """Set by ``unstarted`` once the input has been read to its end after a stop."""

    def run(self, items: Iterable[_In]) -> Iterator[_Out]:
        """Yield one result per item read, as each finishes.

        An exception raised while reading the input is re-raised here after
        every result of what was read has been yielded.
        """
        workers = [
            threading.Thread(target=self._worker, name=f"s3pput-worker-{n}", daemon=True)
            for n in range(self._jobs)
        ]
        for worker in workers:
            worker.start()
        feeder = threading.Thread(
            target=self._feed, args=(items,), name="s3pput-feeder", daemon=True
        )
        feeder.start()
        done: _Done | None = None
        while True:
            with self._lock:
                if done is not None and not self._in_flight:
                    break
            message = self._results.get()
            if isinstance(message, _Done):
                done = message
                continue
            token, result = message
            with self._lock:
                if self._in_flight.pop(token, None) is None:
                    continue  # already handed out by stop()
            yield result
        if done.error is not None:
            raise done.error

    def idle(self) -> bool:
        """Whether no result is waiting: the moment for a consumer to flush its output."""
        return self._results.empty()

    def stop(self) -> list[_In]:
        """Start nothing new and return every record read but not yet reported.

        Each returned record will never be yielded by ``run``; workers still
        busy with one finish in the background and their result is dropped.
        """
        self._stopping.set()
        with self._lock:
            pending = list(self._in_flight.values())
            self._in_flight.clear()
        for _ in range(self._jobs):
            self._todo.put(_STOP)
        self._slots.release(self._jobs)  # wake the feeder if it waits for a slot
        return pending

    def unstarted(self, timeout: float) -> Iterator[_In]:
        """After ``stop()``, yield the input that was never started, for up to ``timeout`` s.

        The feeder keeps reading after a stop, so the caller can report every
        remaining record. ``read_everything`` tells afterwards whether the
        input ended within the time (a writer that is still running may never
        close it).
        """
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                item = self._leftovers.get(timeout=remaining)
            except queue.Empty:
                return
            if item is _STOP:
                self.read_everything = True
                return
            yield cast("_In", item)

    def _feed(self, items: Iterable[_In]) -> None:
        error: BaseException | None = None
        try:
            iterator = iter(items)
            for token in itertools.count():
                self._slots.acquire()
                item = next(iterator, _STOP) if not self._stopping.is_set() else _STOP
                if item is _STOP:
                    break
                with self._lock:
                    if not self._stopping.is_set():
                        self._in_flight[token] = cast("_In", item)
                    else:
                        self._leftovers.put(item)
                        break
                self._dispatch(token, cast("_In", item))
            if self._stopping.is_set():
                for item in iterator:
                    self._leftovers.put(item)
        except Exception as exc:  # noqa: BLE001  # handed to run(), which re-raises it
            error = exc
        finally:
            self._leftovers.put(_STOP)
            for _ in range(self._jobs):
                self._todo.put(_STOP)
            self._results.put(_Done(error))

    def _dispatch(self, token: int, item: _In) -> None:
        """Answer ``item`` here if ``quick`` can, else hand it to a worker."""
        if self._quick is not None:
            try:
                result = self._quick(item)
            except Exception as exc:  # noqa: BLE001  # a bug in quick must not lose the record
                result = self._on_error(item, exc)
            if result is not None:
                self._finished(token, result)
                return
        if self._start is not None:
            try:
                if self._start(item, functools.partial(self._finished, token)):
                    return
            except Exception as exc:  # noqa: BLE001  # a bug in start must not lose the record
                self._finished(token, self._on_error(item, exc))
                return
        self._todo.put((token, item))

    def _finished(self, token: int, result: _Out) -> None:
        """Hand a result to ``run`` and free its slot; callable from any thread."""
        self._slots.release()
        self._results.put((token, result))

    def _worker(self) -> None:
        while True:
            message = self._todo.get()
            if message is _STOP or self._stopping.is_set():
                return
            token, item = cast("tuple[int, _In]", message)
            try:
                result = self._work(item)
            except Exception as exc:  # noqa: BLE001  # a bug in work must not lose the record
                result = self._on_error(item, exc)
            finally:
                self._slots.release()
            self._results.put((token, result))
