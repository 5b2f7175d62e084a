"""The pool gives one result per item read, whatever happens to the work."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from s3pput.pool import Pool


def give_up(item: int, exc: Exception) -> int:
    """on_error for tests that never crash: a marker result."""
    del item, exc
    return -1


def numbers(count: int) -> Iterator[int]:
    """An input stream of integers."""
    yield from range(count)


class TestPool:
    def test_every_item_gets_exactly_one_result(self) -> None:
        """1,000 items through 8 workers give 1,000 results, each once."""
        pool = Pool(lambda n: n * 2, 8, give_up)
        assert sorted(pool.run(numbers(1000))) == [n * 2 for n in range(1000)]

    def test_results_come_in_completion_order(self) -> None:
        """A slow item does not hold back the quick ones behind it."""

        def work(n: int) -> int:
            time.sleep(0.3 if n == 0 else 0)
            return n

        assert list(Pool(work, 2, give_up).run(numbers(5)))[-1] == 0

    def test_a_crash_in_work_becomes_that_items_result(self) -> None:
        """An exception in work is turned into a result by on_error, and the run goes on."""

        def work(n: int) -> str:
            if n == 3:
                raise ValueError("boom")
            return "ok"

        results = list(Pool(work, 4, lambda n, exc: f"error {n}: {exc}").run(numbers(6)))
        assert sorted(results) == ["error 3: boom", "ok", "ok", "ok", "ok", "ok"]

    def test_quick_answers_skip_the_workers(self) -> None:
        """Items quick can answer never reach a worker; the others do."""
        worked: list[int] = []

        def work(n: int) -> str:
            worked.append(n)
            return "slow"

        def never(item: int, exc: Exception) -> str:
            raise AssertionError((item, exc))

        pool = Pool(work, 2, never, lambda n: "quick" if n % 2 else None)
        assert sorted(pool.run(numbers(10))) == ["quick"] * 5 + ["slow"] * 5
        assert sorted(worked) == [0, 2, 4, 6, 8]

    def test_stop_hands_back_in_flight_and_unstarted_items(self) -> None:
        """After stop, in-flight items and the unread input are handed back, none twice."""
        release = threading.Event()

        def work(n: int) -> int:
            release.wait(5)
            return n

        pool = Pool(work, 2, give_up)
        results = pool.run(numbers(10))
        reader = threading.Thread(target=lambda: list(results), daemon=True)
        reader.start()
        time.sleep(0.2)
        in_flight = pool.stop()
        unstarted = list(pool.unstarted(timeout=5))
        release.set()
        assert sorted(in_flight) == [0, 1]
        assert sorted(in_flight + unstarted) == list(range(10))
        assert pool.read_everything
