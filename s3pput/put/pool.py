"""Put's worker processes, seen from the reader process: a lane that hands records to them.

One Python process uploads small files at about one core's worth of CPU;
``--workers N`` forks N processes that each run put's driver and uploader
(pool_worker.py) on a share of ``-j``. The reader process keeps everything
that must be one per run: reading the input, failing duplicate keys, the
bucket index (one LIST per 1,000 keys however many workers upload: the
answer for a key travels with its record), writing the results, and the
promise of one result per record. ``PoolLane`` is the driver's lane there:
``begin`` sends a record to the least busy worker and returns a ``Started``
that the worker's result finishes. A worker that dies costs only the
records it held, which come out failed ("worker died"). At Ctrl-C the
workers are told to stop and their interrupted records (with the ids of
unfinished uploads) are the ones written. Workers are forked before the
reader makes any native client, so no thread of the CRT is forked with them.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
import pickle
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from s3pput import log
from s3pput.errors import S3RequestError
from s3pput.put.lane import NativeDone, Started
from s3pput.put.pipe_batches import BatchedPipe
from s3pput.put.pool_worker import BYE, RECORDS, RESULTS, STOP, Given, serve
from s3pput.put.target import STAGE
from s3pput.put.uploader import Uploader, is_passthrough
from s3pput.records import Record

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkProcess

__all__ = ["PoolLane", "Workers", "shares", "start_workers"]

STOP_WAIT: Final = 10.0
"""Seconds the reader waits, after a stop, for the workers' own interrupted records (which
carry the ids of unfinished uploads); past it the reader writes its own, without them. A stop
must stay quick: a worker normally answers in milliseconds."""
END_WAIT: Final = 30.0
"""Seconds a worker may take to exit once every record it held has its result."""

_SELF_AND_CHILDREN: Final = (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
_log = log.get_logger(STAGE)


@dataclass(eq=False)
class _Worker:
    """One worker process and the reader's two ends of its pipes."""

    number: int
    process: ForkProcess
    records: Connection
    results: Connection
    pending: set[int] = field(default_factory=set)
    alive: bool = True


@dataclass(eq=False)
class Workers:
    """The worker processes of a run, started before anything else (see the module docstring)."""

    lock: threading.Lock
    members: list[_Worker]
    jobs: int
    """Uploads in flight across the workers (``-j``)."""


def shares(jobs: int, count: int) -> list[int]:
    """``jobs`` split between ``count`` workers as evenly as it goes (``count <= jobs``)."""
    return [jobs // count + (number < jobs % count) for number in range(count)]


def start_workers(jobs: list[int], make_uploader: Callable[[int], Uploader]) -> Workers:
    """Fork a worker for each share of ``jobs`` (uploads it keeps in flight).

    ``make_uploader(share)`` runs in each worker (its own native client).
    Call this before the reader makes a native client or starts a thread.
    """
    import multiprocessing  # noqa: PLC0415  # ~5 ms, for runs that fork workers only

    context = multiprocessing.get_context("fork")
    lock = threading.Lock()
    members: list[_Worker] = []
    ours: list[Connection] = []
    for number, share in enumerate(jobs, start=1):
        records_in, records_out = context.Pipe(duplex=False)
        results_in, results_out = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve_closing,
            args=(
                [*ours, records_out, results_in],
                make_uploader,
                share,
                records_in,
                results_out,
                os.getpid(),
            ),
            name=f"s3pput-put-{number}",
            daemon=True,
        )
        process.start()
        records_in.close()
        results_out.close()
        ours += [records_out, results_in]
        members.append(_Worker(number, process, records_out, results_in))
    return Workers(lock, members, sum(jobs))


def _serve_closing(  # noqa: PLR0913, PLR0917  # serve's arguments (Process passes them by position), and the ends to close first
    inherited: list[Connection],
    make_uploader: Callable[[int], Uploader],
    jobs: int,
    records_in: Connection,
    results_out: Connection,
    reader_pid: int,
) -> None:
    """A worker's entry: close the reader's pipe ends it inherited, then serve.

    A worker holding a records pipe's writing end open (its own, or an
    earlier worker's) would keep that worker from ever seeing its input end.
    """
    for connection in inherited:
        connection.close()
    serve(make_uploader, jobs, records_in, results_out, reader_pid)


class PoolLane:
    """The driver's lane in the reader process: each record goes to a worker process."""

    def __init__(self, uploader: Uploader, workers: Workers) -> None:
        self.uploader = uploader
        self.jobs = workers.jobs * 2
        """Records in flight across the workers: each has as many again waiting, to stay fed."""
        self._workers = workers.members
        self._lock = workers.lock
        self._arrived = threading.Condition(self._lock)
        self._pending: dict[int, tuple[_Worker, NativeDone]] = {}
        self._results: dict[int, Record | str] = {}
        self._seq_of: dict[int, int] = {}
        self._seqs = itertools.count()
        self._stop_deadline: float | None = None
        self._late = False
        self._began = False
        """Whether ``begin`` queued records since the last ``send``."""
        self._outboxes = {
            worker: BatchedPipe(
                worker.records, RECORDS, name=f"s3pput-send-{worker.number}", close_at_end=True
            )
            for worker in self._workers
        }
        for worker in self._workers:
            threading.Thread(
                target=self._receive,
                args=(worker,),
                name=f"s3pput-receive-{worker.number}",
                daemon=True,
            ).start()

    def begin(self, record: Record, done: NativeDone) -> Started | Record | None:
        """Look the key up in the reader's index, then send the record to the least busy worker."""
        if is_passthrough(record):
            return record
        given: Given = None
        key = self.uploader.index_key(record)
        if key is not None:
            started = time.monotonic()
            try:
                given = (key, self.uploader.index.lookup(key))
            except S3RequestError as exc:
                return self.uploader.unlisted(record.cleared().evolve(key=key), exc, started)
        with self._lock:
            worker = min(
                (worker for worker in self._workers if worker.alive),
                key=lambda worker: len(worker.pending),
                default=None,
            )
            if worker is None:
                return self._lost(record, "worker died: no worker process left")
            seq = next(self._seqs)
            worker.pending.add(seq)
            self._outboxes[worker].add((seq, record, given))
            self._began = True
            self._pending[seq] = (worker, done)
            self._seq_of[id(record)] = seq
        return Started(functools.partial(self._finish, seq, record), _nothing, math.inf)

    def send(self) -> None:
        """Wake the senders of the workers with records waiting: one message for many records.

        The driver calls this after each pass of its loop; a pass that began
        nothing costs nothing.
        """
        if not self._began:
            return
        self._began = False
        for outbox in self._outboxes.values():
            outbox.wake()

    def process(self, record: Record) -> Record:
        """Not reached: ``begin`` answers or sends every record."""
        return self.uploader.process(record)

    def crashed(self, record: Record, exc: Exception) -> Record:
        """A bug in the reader's part of a record: still one result."""
        return self.uploader.crashed(record, exc)

    def interrupted(self, record: Record, *, begun: bool = True) -> Record:
        """The worker's own interrupted record (it knows the upload left), or the reader's.

        A record never sent to a worker has its result from here (``begun`` as given).
        """
        with self._lock:
            seq = self._seq_of.pop(id(record), None)
            if seq is not None:
                self._stop_workers()
                deadline = self._stop_deadline or time.monotonic()
                while seq not in self._results and (left := deadline - time.monotonic()) > 0:
                    self._arrived.wait(left)
                result = self._results.pop(seq, None)
                if result is None:  # a late answer is dropped: this one is written
                    self._forget(seq)
                    if not self._late:
                        self._late = True
                        _log.warning(
                            "a worker did not answer the stop in time: its records are "
                            "reported interrupted without the ids of unfinished uploads",
                            seconds=STOP_WAIT,
                        )
        if seq is None:
            return self.uploader.interrupted(record, begun=begun)
        if result is None:
            return self.uploader.interrupted(record)
        return self._lost(record, result) if isinstance(result, str) else result

    def close(self, *, finished: bool) -> None:
        """End the workers: let them exit after a finished run; kill them after a stop."""
        for outbox in self._outboxes.values():
            outbox.end()
        deadline = time.monotonic() + END_WAIT
        for worker in self._workers:
            if finished:
                worker.process.join(max(0.0, deadline - time.monotonic()))
            if worker.process.is_alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.process.pid or 0, signal.SIGKILL)
                worker.process.join()
        if log.enabled(log.INFO):
            reader, workers = (resource.getrusage(who) for who in _SELF_AND_CHILDREN)
            _log.info(
                "cpu seconds",
                reader=round(reader.ru_utime + reader.ru_stime, 3),
                workers=round(workers.ru_utime + workers.ru_stime, 3),
                count=len(self._workers),
            )

    def _finish(self, seq: int, record: Record, response: object, error: object) -> Record:
        """The worker's result for ``seq`` (it arrived before the driver was told)."""
        del response, error
        with self._lock:
            self._seq_of.pop(id(record), None)
            result = self._results.pop(seq)
        return self._lost(record, result) if isinstance(result, str) else result

    def _lost(self, record: Record, reason: str) -> Record:
        """A record a worker took with it: failed, with why."""
        _log.warning("failed", key=record.key, path=record.path, error=reason)
        failed = record.cleared().failed(STAGE, reason)
        return failed.evolve(bucket=self.uploader.options.bucket, ts=round(time.time(), 6))

    def _forget(self, seq: int) -> None:
        entry = self._pending.pop(seq, None)
        if entry is not None:
            entry[0].pending.discard(seq)

    def _stop_workers(self) -> None:
        """Tell every worker to stop (once); called with the lock held."""
        if self._stop_deadline is not None:
            return
        self._stop_deadline = time.monotonic() + STOP_WAIT
        for outbox in self._outboxes.values():
            outbox.end(STOP)

    def _receive(self, worker: _Worker) -> None:
        """Receiver thread: results to the driver; at the worker's end, what it still held."""
        said_bye = False
        try:
            while not said_bye:
                kind, items = pickle.loads(worker.results.recv_bytes())  # noqa: S301  # our child's
                said_bye = kind == BYE
                if kind == RESULTS:
                    self._deliver(items)
        except (EOFError, OSError):
            pass
        worker.results.close()
        if said_bye:
            reason = "worker ended without its result (a bug)"
        else:
            worker.process.join(1.0)
            reason = f"worker died ({_how_it_ended(worker.process.exitcode)})"
        with self._lock:
            worker.alive = False
            held = sorted(worker.pending)
        if held:
            _log.error(reason, worker=worker.number, records=len(held))
        self._deliver([(seq, reason) for seq in held])

    def _deliver(self, items: list[tuple[int, Record | str]]) -> None:
        dones = []
        with self._lock:
            for seq, result in items:
                entry = self._pending.pop(seq, None)
                if entry is None:
                    continue  # reported already (interrupted and waited no longer)
                entry[0].pending.discard(seq)
                self._results[seq] = result
                dones.append(entry[1])
            if self._stop_deadline is not None:  # interrupted() may be waiting for one
                self._arrived.notify_all()
        for done in dones:
            done(None, None)


def _nothing() -> None:
    """A record in a worker is cancelled by the worker's own deadline, not from here."""


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running, its pipe closed"
    if exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit status {exitcode}"
