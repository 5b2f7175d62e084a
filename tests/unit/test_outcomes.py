"""What the summary says beyond the statuses: copies, skip reasons, retries, recoveries."""

from __future__ import annotations

import tracemalloc

from s3pput.records import Record, from_json, to_json
from s3pput.stat.outcomes import (
    MAX_SKIP_REASONS,
    OTHER_REASON,
    Outcomes,
    file_identity,
    is_interrupted,
)
from s3pput.stat.summary import Summary, Tally


def done(key: str, *, path: str | None = None, attempts: int | None = None) -> Record:
    """An uploaded result of the file ``path`` (default: the key) sent to ``key``."""
    return Record(
        path=key if path is None else path, key=key, status="uploaded", bytes=1, attempts=attempts
    )


def broke(key: str, error: str = "AccessDenied", *, path: str | None = None) -> Record:
    """A failed result of the file ``path`` (default: the key) sent to ``key``."""
    return Record(
        path=key if path is None else path, key=key, status="failed", stage="put", error=error
    )


def summed(*records: Record) -> Summary:
    """The summary of ``records`` read in order."""
    tally = Tally(started=0.0)
    for record in records:
        tally.add(record)
    return tally.summary(0.0)


class TestRecovery:
    def test_a_failure_uploaded_later_is_recovered_and_the_run_is_ok(self) -> None:
        """run1 failed a key, the replay uploaded it: every key's last record succeeded."""
        summary = summed(done("a"), broke("b"), broke("c"), done("b"), done("c"))

        assert (summary.failed, summary.recovered, summary.still_failed) == (2, 2, 0)
        assert summary.ok

    def test_a_skip_in_the_replay_recovers_too(self) -> None:
        """A failure whose object turned out to be there (skipped unchanged) is made good."""
        summary = summed(
            broke("a"), Record(path="a", key="a", status="skipped", reason="unchanged")
        )

        assert summary.ok

    def test_success_then_failure_is_a_failure(self) -> None:
        """Only the last record of a key counts: uploaded, then failed, is failed."""
        summary = summed(done("a"), broke("a"))

        assert (summary.recovered, summary.still_failed) == (0, 1)
        assert not summary.ok

    def test_failing_again_after_a_recovery_is_a_failure(self) -> None:
        """Failed, uploaded, failed again: the last record failed."""
        summary = summed(broke("a"), done("a"), broke("a"))

        assert (summary.failed, summary.recovered, summary.still_failed) == (2, 1, 1)
        assert not summary.ok

    def test_a_planned_record_recovers_nothing(self) -> None:
        """A dry run of the replay says what would be sent; the key is still not there."""
        summary = summed(broke("a"), Record(path="a", key="a", status="planned"))

        assert not summary.ok

    def test_two_failures_of_one_key_are_both_recovered(self) -> None:
        """A key that failed in two runs and was uploaded by a third: both failures recovered."""
        summary = summed(broke("a"), broke("a"), done("a"))

        assert (summary.recovered, summary.still_failed) == (2, 0)

    def test_a_duplicate_is_not_recovered_by_the_first_file_of_its_key(self) -> None:
        """Two files for one key: the second's duplicate failure is not made good by the first."""
        summary = summed(
            broke("x.txt", "duplicate key (also from d1/x.txt)", path="d2/x.txt"),
            done("x.txt", path="d1/x.txt"),
        )

        assert summary.still_failed == 1
        assert not summary.ok

    def test_a_keyless_record_interrupted_is_recovered_by_its_keyed_replay(self) -> None:
        """``{"path": ...}`` input fails without a key when stopped; the replay's result has one."""
        summary = summed(
            Record(path="a.txt", status="failed", stage="put", error="interrupted"),
            done("a.txt", path="a.txt"),
        )

        assert (summary.recovered, summary.still_failed) == (1, 0)

    def test_one_file_to_two_keys_is_two_files(self) -> None:
        """The same path failed to one key is not made good by its upload to another key."""
        summary = summed(broke("old/a.txt", path="a.txt"), done("new/a.txt", path="a.txt"))

        assert summary.still_failed == 1

    def test_a_line_that_named_no_file_stays_failed(self) -> None:
        """A failed record with neither key nor path cannot be recovered by anything."""
        summary = summed(
            Record(status="failed", stage="put", error="not JSON", line=3), done("a"), done("b")
        )

        assert summary.still_failed == 1

    def test_memory_holds_only_what_is_still_failed(self) -> None:
        """The set of failed files shrinks as the replay succeeds: nothing kept for good keys."""
        outcomes = Outcomes()
        for number in range(1000):
            outcomes.add(done(f"ok/{number}"))
        for number in range(100):
            outcomes.add(broke(f"bad/{number}"))
        assert len(outcomes.outstanding) == 100

        for number in range(99):
            outcomes.add(done(f"bad/{number}"))

        assert list(outcomes.outstanding) == [file_identity(broke("bad/99"))]

    def test_a_failed_file_costs_little_memory_until_it_is_recovered(self) -> None:
        """50,000 failures with long names are kept in well under 200 bytes each."""
        lines = [
            to_json(broke(f"www/a/long/directory/name/{n:08}.jpg", path=f"./site/{n:08}.jpg"))
            for n in range(50_000)
        ]
        tally = Tally(started=0.0, max_errors=0)
        tracemalloc.start()
        try:
            for line in lines:
                tally.add(from_json(line))
            kept, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

        assert kept / len(lines) < 200

    def test_listed_errors_are_marked_when_recovered(self) -> None:
        """The first errors stay listed, each marked if a later record made it good."""
        summary = summed(broke("a"), broke("b"), done("a"))

        assert [(entry.key, entry.recovered) for entry in summary.errors] == [
            ("a", True),
            ("b", False),
        ]


class TestInterrupted:
    def test_interrupted_records_are_counted_apart(self) -> None:
        """Ctrl-C's records are failed (so JSON's ``failed`` keeps its value) and interrupted."""
        summary = summed(broke("a", "interrupted"), broke("b", "interrupted"), broke("c"))

        assert (summary.failed, summary.interrupted) == (3, 2)

    def test_only_the_interrupted_error_is_an_interruption(self) -> None:
        """An error that merely mentions the word is a failure like any other."""
        assert is_interrupted(broke("a", "interrupted"))
        assert is_interrupted(broke("a", "interrupted: never started"))
        assert not is_interrupted(broke("a", "connection interrupted by peer"))
        assert not is_interrupted(Record(key="a", status="uploaded", error="interrupted"))

    def test_a_replayed_interruption_is_recovered(self) -> None:
        """``s3pput --resume`` or a replay finishes what Ctrl-C stopped."""
        summary = summed(broke("a", "interrupted"), done("a"))

        assert (summary.recovered, summary.recovered_interrupted) == (1, 1)
        assert summary.ok


class TestCopiesSkipsRetries:
    def test_copies_count_the_bytes_they_copied(self) -> None:
        """A copy sends no bytes; its ``size`` is what it copied, its ``bytes`` stay 0."""
        copy = Record(
            key="k",
            size=5000,
            status="uploaded",
            bytes=0,
            extra={"source_bucket": "old", "source_key": "src/k"},
        )
        summary = summed(copy, done("a"))

        assert (summary.uploaded, summary.copied, summary.copied_bytes, summary.bytes) == (
            2,
            1,
            5000,
            1,
        )

    def test_a_copy_by_key_alone_is_a_copy(self) -> None:
        """``--put copy --source-bucket`` takes records with only a key: no path, a copy."""
        summary = summed(Record(key="k", size=7, status="uploaded", bytes=0))

        assert (summary.copied, summary.copied_bytes) == (1, 7)

    def test_skips_are_counted_by_reason(self) -> None:
        """Each reason put gives is counted; a skip without one is ``other``."""
        summary = summed(
            *(Record(key=f"u{n}", status="skipped", reason="unchanged") for n in range(3)),
            Record(key="e", status="skipped", reason="exists"),
            Record(key="x", status="skipped"),
        )

        assert summary.skipped_by_reason == (("exists", 1), ("other", 1), ("unchanged", 3))

    def test_hand_made_reasons_cannot_grow_the_table(self) -> None:
        """A million distinct reasons are counted under a bounded number of names."""
        outcomes = Outcomes()
        for number in range(1000):
            outcomes.add(Record(key=f"k{number}", status="skipped", reason=f"why {number}"))

        assert len(outcomes.skip_reasons) == MAX_SKIP_REASONS
        assert sum(outcomes.skip_reasons.values()) == 1000
        assert outcomes.skip_reasons[OTHER_REASON] == 1000 - (MAX_SKIP_REASONS - 1)

    def test_retries_come_from_attempts(self) -> None:
        """Tries beyond the first, summed; and how many records needed any."""
        summary = summed(
            done("a", attempts=1),
            done("b", attempts=3),
            broke("c").evolve(attempts=2),
            done("d", attempts=0),
            done("e"),
        )

        assert (summary.retries, summary.records_retried) == (3, 2)
