"""One worker process of put: records in from the reader process, results back, in batches.

A worker runs the same driver and uploader as a single-process put, on its
share of ``-j``, with a native client of its own. It reads ``(seq, record,
given)`` batches from its pipe, where ``given`` is what the reader's bucket
index said of the record's key, and answers ``(seq, result)`` batches. It
ignores SIGINT and SIGTERM: the reader tells it to stop (a "stop" message),
so a terminal's Ctrl-C, which reaches every process of the group, is handled
once, with the upload ids of unfinished uploads in the records. It must not
know how records are read or written, nor how many workers there are.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, TypeAlias

from s3pput import log
from s3pput.put.bucket_index import Head
from s3pput.put.driver import Driver
from s3pput.put.lane import NativeDone, Started
from s3pput.put.pipe_batches import BatchedPipe
from s3pput.put.target import STAGE
from s3pput.put.uploader import Uploader
from s3pput.records import Record

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

__all__ = [
    "BYE",
    "RECORDS",
    "RESULTS",
    "STOP",
    "Given",
    "serve",
]

RECORDS: Final = "records"
"""Reader to worker: ``(RECORDS, [(seq, record, given), ...])``."""
STOP: Final = "stop"
"""Reader to worker: stop as Ctrl-C would; the records still coming are reported interrupted."""
RESULTS: Final = "results"
"""Worker to reader: ``(RESULTS, [(seq, result), ...])``."""
BYE: Final = "bye"
"""Worker to reader: every record it was sent has its result; nothing follows."""

Given: TypeAlias = tuple[str, Head | None] | None
"""The key the reader's index was asked about and its answer, or None if it was not asked."""


_log = log.get_logger(STAGE)
_PR_SET_PDEATHSIG: Final = 1


def serve(
    make_uploader: Callable[[int], Uploader],
    jobs: int,
    records_in: Connection,
    results_out: Connection,
    reader_pid: int,
) -> None:
    """The worker process's whole life: upload what arrives until the pipe closes.

    Runs in a forked child. Its stdin and stdout are /dev/null (the reader
    process owns the pipeline's ends, so a stage downstream sees the end of
    its input when the reader exits), and it dies with the reader.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _die_with_parent(reader_pid)
    _detach_pipeline_ends()
    uploader = make_uploader(jobs)
    lane = _TaggedLane(uploader)

    outbox = BatchedPipe(results_out, RESULTS, name="s3pput-results")

    def emit(results: list[Record]) -> None:
        outbox.put(lane.tagged(results))

    driver = Driver(
        lane,
        jobs,
        emit,
        lookahead=max(1024, jobs * 2),
        on_stop=uploader.stop,
    )
    finished = threading.Event()

    inbox: queue.SimpleQueue[list[Record] | None] = queue.SimpleQueue()
    threading.Thread(
        target=_read_pipe, args=(records_in, lane, driver, inbox), name="s3pput-inbox", daemon=True
    ).start()

    def run() -> None:
        try:
            driver.run(iter(inbox.get, None))
        finally:
            uploader.close()
            finished.set()

    # On a thread of its own, so the driver installs no signal handlers: the reader decides.
    thread = threading.Thread(target=run, name="s3pput-worker-driver", daemon=True)
    thread.start()
    finished.wait()
    outbox.end(wait=True)
    with contextlib.suppress(OSError):  # the reader is gone: nobody is left to tell
        results_out.send_bytes(pickle.dumps((BYE, []), protocol=5))


def _read_pipe(
    records_in: Connection,
    lane: _TaggedLane,
    driver: Driver,
    inbox: queue.SimpleQueue[list[Record] | None],
) -> None:
    """Pipe reader: batches to ``inbox`` (None at the end), and a stop to the driver at once.

    On a thread of its own, not the driver's reader, which reads only when the
    driver asks for more: a driver held up (an endpoint down) would then never
    read the stop. The reader process bounds what it sends, so ``inbox`` is too.
    """
    while True:
        try:
            kind, items = pickle.loads(records_in.recv_bytes())  # noqa: S301  # our own parent's
        except (EOFError, OSError):
            inbox.put(None)
            return
        if kind == STOP:
            driver.request_stop()
        elif kind == RECORDS:
            inbox.put([lane.admit(seq, record, given) for seq, record, given in items])


class _TaggedLane:
    """The uploader's lane, where every result is tagged with its record's ``seq``.

    The driver hands results to ``emit`` without their records; the tag is how
    the reader process pairs them. A record is held here until its result is
    written, so ``id()`` stays its own.
    """

    def __init__(self, uploader: Uploader) -> None:
        self.uploader = uploader
        self._seqs: dict[int, int] = {}
        self._held: dict[int, tuple[Record, str | None]] = {}
        self._tags: dict[int, int] = {}
        self._lock = threading.Lock()

    def admit(self, seq: int, record: Record, given: Given) -> Record:
        """Note a record from the reader, and what its index said of the key."""
        key = None
        if given is not None:
            key, head = given
            self.uploader.index.give(key, head)
        with self._lock:
            self._seqs[id(record)] = seq
            self._held[seq] = (record, key)
        return record

    def _tag(self, record: Record, result: Record) -> Record:
        """Tag ``result`` with its record's seq, unless the record was answered already.

        After a stop the driver answers records in flight at once (interrupted);
        a thread still working on one finishes later, and its result is dropped.
        """
        with self._lock:
            seq = self._seqs.get(id(record))
            if seq is not None:
                self._tags[id(result)] = seq
        return result

    def tagged(self, results: list[Record]) -> list[tuple[int, Record]]:
        """Pair results with their seqs; forget their records and given answers."""
        pairs = []
        with self._lock:
            for result in results:
                seq = self._tags.pop(id(result), None)
                if seq is None:  # a bug: the reader reports the record it never got back
                    _log.error("a result without its record", key=result.key)
                    continue
                record, key = self._held.pop(seq)
                del self._seqs[id(record)]
                if key is not None:
                    self.uploader.index.forget_given(key)
                pairs.append((seq, result))
        return pairs

    def begin(self, record: Record, done: NativeDone) -> Started | Record | None:
        """The uploader's begin; a started upload's result is tagged when it finishes."""
        answer = self.uploader.begin(record, done)
        if answer is None:
            return None
        if isinstance(answer, Started):
            finish = answer.finish

            def tagged_finish(response: object, error: BaseException | None) -> Record:
                return self._tag(record, finish(response, error))

            return Started(tagged_finish, answer.cancel, answer.deadline, answer.size)
        return self._tag(record, answer)

    def process(self, record: Record) -> Record:
        """The uploader's process, tagged."""
        return self._tag(record, self.uploader.process(record))

    def interrupted(self, record: Record, *, begun: bool = True) -> Record:
        """The uploader's interrupted record (with the id of an upload left), tagged."""
        return self._tag(record, self.uploader.interrupted(record, begun=begun))

    def crashed(self, record: Record, exc: Exception) -> Record:
        """The uploader's crashed record, tagged."""
        return self._tag(record, self.uploader.crashed(record, exc))


def _die_with_parent(reader_pid: int) -> None:
    """Ask Linux to kill this process when the reader dies (a parent killed by SIGKILL)."""
    import ctypes  # noqa: PLC0415  # in the worker only, once

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return  # not Linux: the closed pipe still ends the worker
    if os.getppid() != reader_pid:  # the reader died before prctl took effect
        os._exit(1)


def _detach_pipeline_ends() -> None:
    """Point stdin and stdout at /dev/null: only the reader process holds the pipeline's ends."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
