"""The driver gives one result per record read, whatever the lane does with it.

The lane here is a stand-in with the uploader's shape: records say what it
should do with them (answer at once, finish later on another thread like the
native client, need a worker, or crash). The real uploader runs through the
engine in the end-to-end tests.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from s3pput.put import driver
from s3pput.put.driver import Driver
from s3pput.put.lane import NativeDone, Outcome, Started
from s3pput.records import NOT_STARTED, Record


def record(n: int, kind: str) -> Record:
    """A record whose key tells the lane what to do with it."""
    return Record(path=f"/data/{n}", key=f"{kind}-{n}")


class Lane:
    """Does what each record's key says: now, native, work, never, crash-begin/process/finish."""

    def __init__(self, native_delay: float = 0.001) -> None:
        self.native_delay = native_delay
        self.cancelled: list[str] = []
        self.worker_threads: set[str] = set()
        self.release = threading.Event()
        self.blocked = threading.Semaphore(0)

    def begin(self, rec: Record, done: NativeDone) -> Started | Record | None:
        """Answer now, start a timer standing in for the native client, or pass."""
        kind = str(rec.key).split("-")[0]
        if kind == "now":
            return rec.evolve(status="skipped")
        if kind == "crash" and rec.key and rec.key.startswith("crash-begin"):
            raise RuntimeError("bug in begin")
        if kind in {"native", "never"} or (rec.key or "").startswith("crash-finish"):
            if kind != "never":
                timer = threading.Timer(self.native_delay, done, args=("etag", None))
                timer.start()

            def finish(response: object, error: BaseException | None) -> Record:
                if (rec.key or "").startswith("crash-finish"):
                    raise RuntimeError("bug in finish")
                if error is not None:
                    return rec.failed("put", str(error))
                return rec.evolve(status="uploaded", etag=str(response))

            return Started(finish, lambda: self._cancel(rec, done), time.monotonic() + 60)
        return None

    def _cancel(self, rec: Record, done: NativeDone) -> None:
        self.cancelled.append(str(rec.key))
        done(None, RuntimeError("cancelled"))

    def process(self, rec: Record) -> Record:
        """The worker-thread path."""
        self.worker_threads.add(threading.current_thread().name)
        if (rec.key or "").startswith("crash-process"):
            raise RuntimeError("bug in process")
        if (rec.key or "").startswith("die"):
            raise SystemExit(9)  # what ends a thread rather than a record
        if (rec.key or "").startswith("block"):
            self.blocked.release()
            self.release.wait(10)
        return rec.evolve(status="uploaded", reason="worker")

    def interrupted(self, rec: Record, *, begun: bool = True) -> Record:
        """As the uploader reports a stopped record."""
        failed = rec.failed("put", "interrupted")
        return failed if begun else failed.evolve(reason=NOT_STARTED)

    def crashed(self, rec: Record, exc: Exception) -> Record:
        """As the uploader reports a bug."""
        return rec.failed("put", f"internal error: {exc}")


def run(
    lane: Lane, batches: list[list[Record]], jobs: int = 4
) -> tuple[Outcome, list[Record], list[int]]:
    """Run the driver; return its outcome, what it wrote, and the size of each write."""
    written: list[Record] = []
    sizes: list[int] = []

    def emit(results: list[Record]) -> None:
        sizes.append(len(results))
        written.extend(results)

    outcome = Driver(lane, jobs, emit).run(iter(batches))
    return outcome, written, sizes


def keys(records: list[Record]) -> list[str]:
    """Sorted keys, to compare sets of records."""
    return sorted(str(r.key) for r in records)


class TestEngine:
    def test_every_record_gets_exactly_one_result(self) -> None:
        """A mix of immediate, native and worker records: each comes out once."""
        kinds = ["now", "native", "work"]
        records = [record(n, kinds[n % 3]) for n in range(600)]
        batches = [records[i : i + 50] for i in range(0, 600, 50)]
        outcome, written, _ = run(Lane(), batches, jobs=16)
        assert keys(written) == keys(records)
        assert outcome == Outcome("finished", failed=0)
        assert {r.status for r in written} == {"skipped", "uploaded"}

    def test_workers_start_only_when_needed_and_stay_within_jobs(self) -> None:
        """Native records need no worker thread; worker records use at most ``jobs`` threads."""
        lane = Lane()
        run(lane, [[record(n, "native") for n in range(100)]], jobs=8)
        assert lane.worker_threads == set()
        run(lane, [[record(n, "work") for n in range(100)]], jobs=3)
        assert 1 <= len(lane.worker_threads) <= 3

    def test_bytes_in_flight_are_bounded(self) -> None:
        """No native upload starts while ``max_bytes`` are in flight (one may cross it)."""
        lane = Lane(native_delay=0.01)
        original = lane.begin
        in_flight = 0
        most = 0

        def begin(rec: Record, done: NativeDone) -> Started | Record | None:
            nonlocal in_flight, most
            started = original(rec, done)
            assert isinstance(started, Started)
            in_flight += 1
            most = max(most, in_flight)

            def finish(response: object, error: BaseException | None) -> Record:
                nonlocal in_flight
                in_flight -= 1
                return started.finish(response, error)

            return Started(finish, started.cancel, started.deadline, size=4)

        lane.begin = begin  # type: ignore[method-assign]
        written: list[Record] = []
        driver_ = Driver(lane, 100, written.extend, max_bytes=10)
        driver_.run(iter([[record(n, "native") for n in range(30)]]))
        assert len(written) == 30
        assert most == 3

    def test_crashes_become_that_records_failed_result(self) -> None:
        """A bug in begin, process or finish fails one record; the run goes on."""
        records = [
            record(1, "crash-begin"),
            record(2, "crash-process"),
            record(3, "crash-finish"),
            record(4, "native"),
        ]
        outcome, written, _ = run(Lane(), [records])
        errors = {r.key: r.error for r in written}
        assert errors == {
            "crash-begin-1": "internal error: bug in begin",
            "crash-process-2": "internal error: bug in process",
            "crash-finish-3": "internal error: bug in finish",
            "native-4": None,
        }
        assert outcome.failed == 3

    def test_a_worker_thread_that_dies_costs_only_its_record(self) -> None:
        """A worker ended by SystemExit: its record fails, the others go on in new threads."""
        records = [record(n, "die" if n % 10 == 0 else "work") for n in range(100)]
        lane = Lane()
        outcome, written, _ = run(lane, [records], jobs=4)
        assert keys(written) == keys(records)
        failed = {str(r.key) for r in written if r.status == "failed"}
        assert failed == {f"die-{n}" for n in range(0, 100, 10)}
        assert all("SystemExit" in str(r.error) for r in written if r.status == "failed")
        assert outcome.failed == 10
        assert len(lane.worker_threads) > 1

    def test_results_are_written_in_batches_under_load(self) -> None:
        """Immediate results are written together, not one write per record."""
        records = [record(n, "now") for n in range(2000)]
        _, written, sizes = run(Lane(), [records])
        assert len(written) == 2000
        assert len(sizes) < 20
        assert max(sizes) <= driver.FLUSH_RECORDS

    def test_an_input_error_is_raised_after_what_was_read(self) -> None:
        """Records read before the input failed are all reported, then the error is raised."""
        written: list[Record] = []

        def batches() -> Iterator[list[Record]]:
            yield [record(n, "native") for n in range(5)]
            raise OSError("disk gone")

        with pytest.raises(OSError, match="disk gone"):
            Driver(Lane(), 2, written.extend).run(batches())
        assert len(written) == 5

    def test_overdue_uploads_are_cancelled_and_fail(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An upload the native client never finishes is cancelled at its deadline."""
        monkeypatch.setattr(driver, "WATCH_SECONDS", 0.05)
        lane = Lane()
        original = lane.begin

        def begin(rec: Record, done: NativeDone) -> Started | Record | None:
            started = original(rec, done)
            assert isinstance(started, Started)
            return Started(started.finish, started.cancel, time.monotonic() + 0.1)

        lane.begin = begin  # type: ignore[method-assign]
        outcome, written, _ = run(lane, [[record(1, "never"), record(2, "native")]])
        assert lane.cancelled == ["never-1"]
        by_key = {r.key: r for r in written}
        assert by_key["never-1"].status == "failed"
        assert "no answer before its deadline" in str(by_key["never-1"].error)
        assert by_key["native-2"].status == "uploaded"
        assert outcome.failed == 1

    def test_a_closed_output_counts_what_was_not_reported(self) -> None:
        """BrokenPipeError from emit ends the run and counts every record left unreported."""

        def emit(results: list[Record]) -> None:
            del results
            raise BrokenPipeError

        records = [record(n, "now") for n in range(10)]
        outcome = Driver(Lane(), 4, emit).run(iter([records]))
        assert outcome.ended == "output closed"
        assert outcome.unreported == 10
        assert outcome.read_everything

    def test_sigint_reports_in_flight_waiting_and_unread_records(self) -> None:
        """Ctrl-C: records in flight, waiting and still unread all come out as interrupted."""
        lane = Lane()
        written: list[Record] = []

        def interrupt_when_all_block() -> None:
            for _ in range(3):
                assert lane.blocked.acquire(timeout=10)
            os.kill(os.getpid(), signal.SIGINT)

        def batches() -> Iterator[list[Record]]:
            yield [record(n, "block") for n in range(3)]
            yield [record(n, "now") for n in range(3, 6)]
            yield [record(n, "native") for n in range(6, 9)]

        threading.Thread(target=interrupt_when_all_block, daemon=True).start()
        outcome = Driver(lane, 3, written.extend, lookahead=1).run(batches())
        lane.release.set()
        assert outcome.ended == "interrupted"
        assert outcome.read_everything
        assert keys(written) == keys(
            [record(n, "block") for n in range(3)]
            + [record(n, "now") for n in range(3, 6)]
            + [record(n, "native") for n in range(6, 9)]
        )
        assert {str(r.key): r.error for r in written if r.key and r.key.startswith("block")} == {
            f"block-{n}": "interrupted" for n in range(3)
        }
        reasons = {str(r.key): r.reason for r in written}
        assert reasons == {
            **{f"block-{n}": None for n in range(3)},  # in flight: begun
            **{f"now-{n}": NOT_STARTED for n in range(3, 6)},  # waiting for a slot
            **{f"native-{n}": NOT_STARTED for n in range(6, 9)},  # not yet read
        }
