"""The rate limits' bucket put's worker processes share (no server: a fork, shared memory)."""

from __future__ import annotations

import os

from s3pput.transport.shared_pace import SharedPace
from s3pput.transport.throttle import Pace


def test_what_a_forked_process_spends_the_other_sees() -> None:
    """Two processes, one bucket: a child's spending leaves the parent in debt, as one would."""
    shared, alone = SharedPace(10.0), Pace(10.0)
    assert shared.wait(100.0) == alone.wait(100.0) == 0.0  # a full burst: one unit at 10/s
    child = os.fork()
    if child == 0:  # pragma: no cover  # the child's coverage is not collected
        shared.take(100.0, 5)
        os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    alone.take(100.0, 5)
    assert shared.level == alone.level == -4.0
    assert shared.wait(100.0) == alone.wait(100.0) > 0.4  # both wait for the debt to be paid
