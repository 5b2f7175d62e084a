"""How put's ``-j`` is split between its worker processes (pure)."""

from __future__ import annotations

import pytest

from s3pput.put.pool import shares


@pytest.mark.parametrize(
    ("jobs", "count", "expected"),
    [(128, 2, [64, 64]), (3, 2, [2, 1]), (16, 3, [6, 5, 5]), (4, 4, [1, 1, 1, 1]), (1, 1, [1])],
)
def test_the_shares_add_up_to_jobs_and_differ_by_one_at_most(
    jobs: int, count: int, expected: list[int]
) -> None:
    """Together the workers keep exactly -j uploads in flight, never more."""
    assert shares(jobs, count) == expected
    assert sum(shares(jobs, count)) == jobs
