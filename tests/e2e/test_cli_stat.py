"""Tests for the installed ``s3pput-stat`` command, run for real through pipes and a pty."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from s3pput.records import Record, to_json

STAT = str(Path(sys.executable).parent / "s3pput-stat")


def ndjson(*records: Record) -> bytes:
    """Serialise records the way put writes them."""
    return b"".join(to_json(record) for record in records)


def uploaded(key: str, size: int, ts: float, seconds: float = 0.0) -> Record:
    """Build an uploaded put result."""
    return Record(path=key, key=key, status="uploaded", bytes=size, ts=ts, seconds=seconds)


def failed(key: str, error: str = "AccessDenied: no", ts: float = 0.0) -> Record:
    """Build a failed put result."""
    return Record(path=key, key=key, status="failed", stage="put", error=error, ts=ts)


def stat(
    *args: str, stdin: bytes = b"", cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run ``s3pput-stat`` with ``stdin`` piped in and stdout/stderr captured."""
    return subprocess.run(
        [STAT, *args], input=stdin, capture_output=True, check=False, timeout=60, cwd=cwd
    )


def read_pty(master: int, until: bytes | None = None, timeout: float = 10.0) -> bytes:
    """Read what a child wrote to a pty: until ``until`` appears, or until it closes."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if not ready:
            continue
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: every writer closed the slave side
            break
        if not chunk:
            break
        data += chunk
        if until is not None and until in data:
            break
    return data


@pytest.fixture(name="good_run")
def fixture_good_run() -> bytes:
    """Two uploads and a skip, spanning 2.5 seconds of the run's own time."""
    return ndjson(
        uploaded("a", 1000, ts=100.0, seconds=0.5),
        uploaded("b", 2000, ts=102.0, seconds=1.0),
        Record(path="c", key="c", status="skipped", ts=101.0),
    )


class TestStatCommand:
    def test_prints_the_run_in_human_units_first(self, good_run: bytes) -> None:
        """The first stdout line sums the run in binary units, timed from the records."""
        result = stat(stdin=good_run)

        assert result.returncode == 0, result.stderr
        first = result.stdout.decode().splitlines()[0]
        assert first == "put 2.9 KiB in 2 files in 2.5 s (1.2 KiB/s, 0.8 files/s)"
        assert result.stderr == b""

    def test_counts_each_status(self) -> None:
        """Uploaded, skipped, failed, planned and pending each get their own count."""
        result = stat(
            stdin=ndjson(
                uploaded("a", 1, ts=1.0),
                Record(key="b", status="skipped"),
                Record(key="c", status="planned"),
                Record(key="d", status="planned"),
                Record(path="e"),
                failed("f"),
            )
        )

        counts = dict(line.split(":") for line in result.stdout.decode().splitlines()[1:7])
        assert {name: int(value) for name, value in counts.items()} == {
            "uploaded": 1,
            "skipped": 1,
            "failed": 1,
            "planned": 2,
            "pending": 1,
            "invalid": 0,
        }

    def test_all_good_exits_0(self, good_run: bytes) -> None:
        """Uploads and skips only: the run succeeded."""
        assert stat(stdin=good_run).returncode == 0

    def test_walk_output_is_pending_and_exits_0(self) -> None:
        """Records nobody uploaded yet are pending, which is not a failure."""
        result = stat("--json", stdin=ndjson(Record(path="a", size=1), Record(path="b", size=2)))

        assert result.returncode == 0
        assert json.loads(result.stdout)["pending"] == 2

    def test_a_failed_record_exits_1(self, good_run: bytes) -> None:
        """One failed upload makes the exit code 1."""
        result = stat(stdin=good_run + ndjson(failed("x")))

        assert result.returncode == 1
        assert "failed:   1" in result.stdout.decode()

    def test_invalid_lines_are_counted_logged_and_exit_1(self, good_run: bytes) -> None:
        """Bad JSON and wrongly typed fields count as invalid, not as records."""
        result = stat("--json", stdin=good_run + b"not json\n" + b'{"bytes": "many"}\n')

        assert result.returncode == 1
        summary = json.loads(result.stdout)
        assert (summary["records"], summary["invalid"]) == (3, 2)
        assert [error["line"] for error in summary["errors"]] == [4, 5]
        assert b"line is not a record" in result.stderr

    @pytest.mark.parametrize("field", ["bytes", "seconds", "ts", "total_files"])
    def test_a_huge_number_is_an_invalid_line_and_the_summary_is_printed(
        self, field: str, good_run: bytes
    ) -> None:
        """A 400-digit number is one invalid line: no traceback, and the summary is printed."""
        huge = b'{"key": "h", "status": "uploaded", "%s": 1%s}\n' % (field.encode(), b"0" * 400)
        result = stat(stdin=good_run + huge)

        assert result.returncode == 1, result.stderr
        assert b"Traceback" not in result.stderr, result.stderr
        text = result.stdout.decode()
        assert text.startswith("put 2.9 KiB in 2 files"), text
        assert "invalid:  1" in text
        assert f"line 4 [stat]: {field} is" in text

    def test_blank_lines_are_skipped(self, good_run: bytes) -> None:
        """Blank and whitespace-only lines are neither records nor invalid."""
        spaced = b"\n  \n\n".join(good_run.splitlines()) + b"\n\n\t\n"

        result = stat("--json", stdin=spaced)

        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert (summary["records"], summary["invalid"]) == (3, 0)

    def test_json_has_every_documented_field(self, good_run: bytes) -> None:
        """``--json`` prints one object with counts, bytes, seconds, rates and errors."""
        result = stat("--json", stdin=good_run + ndjson(failed("x", ts=101.0)))

        lines = result.stdout.splitlines()
        assert len(lines) == 1
        summary = json.loads(lines[0])
        assert {
            "records": 4,
            "uploaded": 2,
            "skipped": 1,
            "failed": 1,
            "planned": 0,
            "pending": 0,
            "invalid": 0,
            "bytes": 3000,
            "seconds": 2.5,
            "bytes_per_second": 1200.0,
            "files_per_second": 0.8,
        }.items() <= summary.items()
        assert summary["errors"] == [
            {
                "key": "x",
                "path": "x",
                "line": None,
                "source": None,
                "stage": "put",
                "error": "AccessDenied: no",
            }
        ]

    def test_merges_files_from_several_hosts(self, tmp_path: Path) -> None:
        """Several FILEs are summed, and the time spans from the first start to the last end."""
        (tmp_path / "host1.ndjson").write_bytes(
            ndjson(uploaded("a", 100, ts=1000.0, seconds=2.0), uploaded("b", 100, ts=1001.0))
        )
        (tmp_path / "host2.ndjson").write_bytes(
            ndjson(uploaded("c", 300, ts=1005.0, seconds=1.0), failed("d", ts=1003.0))
        )

        result = stat("--json", "host1.ndjson", "host2.ndjson", cwd=tmp_path)

        summary = json.loads(result.stdout)
        assert (summary["uploaded"], summary["failed"], summary["bytes"]) == (3, 1, 500)
        assert summary["seconds"] == 7.0
        assert result.returncode == 1

    def test_reads_stdin_among_files_with_dash(self, tmp_path: Path) -> None:
        """``-`` among FILEs reads stdin in its place."""
        (tmp_path / "saved.ndjson").write_bytes(ndjson(uploaded("a", 1, ts=1.0)))

        result = stat(
            "--json", "saved.ndjson", "-", stdin=ndjson(uploaded("b", 2, ts=2.0)), cwd=tmp_path
        )

        assert json.loads(result.stdout)["bytes"] == 3

    def test_invalid_lines_name_their_file(self, tmp_path: Path) -> None:
        """When reading files, an invalid line is listed as FILE:LINE."""
        (tmp_path / "run.ndjson").write_bytes(ndjson(uploaded("a", 1, ts=1.0)) + b"{oops\n")

        result = stat("run.ndjson", cwd=tmp_path)

        assert result.stdout.decode().splitlines()[-1].startswith("  run.ndjson:2 [stat]: not JSON")

    def test_lists_the_first_errors(self) -> None:
        """The error list shows key, stage and message for the first ten, then how many more."""
        result = stat(stdin=ndjson(*(failed(f"k{i}", f"boom {i}") for i in range(12))))

        lines = result.stdout.decode().splitlines()
        start = lines.index("first errors (10 of 12):")
        assert lines[start + 1 :] == [
            *(f"  k{i} [put]: boom {i}" for i in range(10)),
            "  ... and 2 more",
        ]

    def test_errors_flag_limits_the_list(self) -> None:
        """``--errors 2`` lists two errors and ``--errors 0`` none, but all are counted."""
        records = ndjson(*(failed(f"k{i}") for i in range(5)))

        two = stat("--errors", "2", "--json", stdin=records)
        none = stat("--errors", "0", stdin=records)

        assert [error["key"] for error in json.loads(two.stdout)["errors"]] == ["k0", "k1"]
        assert "first errors" not in none.stdout.decode()
        assert "failed:   5" in none.stdout.decode()

    def test_bad_flag_value_is_a_usage_error(self) -> None:
        """A negative ``--errors`` exits 2 with argparse's message."""
        result = stat("--errors", "-1")

        assert result.returncode == 2
        assert b"must be 0 or more" in result.stderr

    def test_unreadable_file_is_logged_others_still_count_exit_2(self, tmp_path: Path) -> None:
        """A missing FILE is reported and skipped; the summary is partial, so exit 2."""
        (tmp_path / "ok.ndjson").write_bytes(ndjson(uploaded("a", 1, ts=1.0)))

        result = stat("--json", "missing.ndjson", "ok.ndjson", cwd=tmp_path)

        assert result.returncode == 2
        assert json.loads(result.stdout)["uploaded"] == 1
        assert b"cannot read input" in result.stderr

    def test_reader_gone_exits_0_quietly(self) -> None:
        """``| head -1`` on a long summary ends stat with exit 0 and nothing on stderr."""
        records = ndjson(*(failed(f"key/{i:06}", "x" * 200) for i in range(20000)))
        stat_proc = subprocess.Popen(
            [STAT, "--errors", "20000"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        head = subprocess.Popen(["head", "-1"], stdin=stat_proc.stdout, stdout=subprocess.PIPE)
        assert stat_proc.stdout is not None
        stat_proc.stdout.close()

        _, stderr = stat_proc.communicate(records, timeout=60)
        first, _ = head.communicate(timeout=60)

        assert first.startswith(b"put 0 B in 0 files")
        assert stderr == b""
        assert stat_proc.returncode == 0


class TestStatOnATerminal:
    def test_control_characters_never_reach_the_terminal_raw(self, tmp_path: Path) -> None:
        """Summary and logs on a terminal show a key or file named with ESC escaped."""
        results = tmp_path / "run\x1b[31mred.ndjson"
        results.write_bytes(ndjson(failed("esc\x1b[31mred", "refused \x1b[2J")) + b"bad\n")
        master, slave = pty.openpty()
        try:
            with subprocess.Popen([STAT, str(results)], stdout=slave, stderr=slave) as proc:
                os.close(slave)
                shown = read_pty(master)
                proc.wait(timeout=60)
        finally:
            os.close(master)

        assert proc.returncode == 1
        assert b"esc\\x1b[31mred [put]: refused \\x1b[2J" in shown, shown
        assert b"run\\x1b[31mred.ndjson" in shown, shown  # the invalid line's warning
        assert b"\x1b[31mred" not in shown, shown
        assert b"\x1b[2J" not in shown, shown


class TestStatProgress:
    def test_progress_line_appears_on_a_terminal(self, good_run: bytes) -> None:
        """With stderr on a terminal, a ``\\r`` progress line is drawn and then cleared."""
        master, slave = pty.openpty()
        try:
            with subprocess.Popen(
                [STAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave
            ) as proc:
                os.close(slave)
                stdout, _ = proc.communicate(good_run, timeout=60)
            shown = read_pty(master)
        finally:
            os.close(master)

        assert proc.returncode == 0
        assert b"\r1 records, 1 uploaded, 1000 B" in shown
        assert shown.endswith(b"\r\x1b[K")
        assert stdout.startswith(b"put 2.9 KiB in 2 files")
        assert b"\r" not in stdout

    def test_progress_refreshes_while_input_streams(self) -> None:
        """Records arriving later redraw the line, so a long run shows it moving."""
        master, slave = pty.openpty()
        try:
            with subprocess.Popen(
                [STAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave
            ) as proc:
                os.close(slave)
                assert proc.stdin is not None
                seen = []
                for count in (1, 2, 3):
                    proc.stdin.write(ndjson(uploaded(f"k{count}", 1024, ts=float(count))))
                    proc.stdin.flush()
                    seen.append(read_pty(master, until=f"\r{count} records".encode()))
                    time.sleep(0.3)  # longer than the refresh interval
                proc.communicate(timeout=60)
        finally:
            os.close(master)

        assert [f"\r{count} records".encode() in text for count, text in enumerate(seen, 1)] == [
            True,
            True,
            True,
        ]

    def test_no_progress_when_stderr_is_a_pipe(self, good_run: bytes) -> None:
        """Piped or redirected stderr never gets progress control characters."""
        result = stat(stdin=good_run)

        assert result.stderr == b""

    def test_no_progress_flag_silences_the_terminal(self, good_run: bytes) -> None:
        """``--no-progress`` keeps even a terminal free of the live line."""
        master, slave = pty.openpty()
        try:
            with subprocess.Popen(
                [STAT, "--no-progress"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave
            ) as proc:
                os.close(slave)
                proc.communicate(good_run, timeout=60)
            shown = read_pty(master)
        finally:
            os.close(master)

        assert shown == b""

    def test_ctrl_c_still_prints_what_was_counted(self) -> None:
        """Interrupting a stream that never ends prints the summary so far and exits 130."""
        returncode, stdout = stat_interrupted_after_one_record()
        assert returncode == 130
        assert stdout.startswith(b"put 1000 B in 1 file in 0.5 s")

    def test_results_after_ctrl_c_are_still_counted(self) -> None:
        """In walk | put | stat one Ctrl-C reaches all: what put reports after it is counted."""
        later = ndjson(uploaded("b", 24, ts=100.5, seconds=0.5))
        returncode, stdout = stat_interrupted_after_one_record(then=later)
        assert returncode == 130
        assert stdout.startswith(b"put 1.0 KiB in 2 files")

    def test_a_second_ctrl_c_stops_at_once(self) -> None:
        """An input that never ends (tail -f) is left at the second Ctrl-C, summary printed."""
        with subprocess.Popen(
            [STAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            assert proc.stdin is not None
            proc.stdin.write(ndjson(uploaded("a", 1000, ts=100.0, seconds=0.5)))
            proc.stdin.flush()
            time.sleep(1.0)
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            assert proc.stdout is not None
            stdout = proc.stdout.read()
            assert time.monotonic() - started < 5
            proc.stdin.close()
        assert proc.returncode == 130
        assert stdout.startswith(b"put 1000 B in 1 file")


def stat_interrupted_after_one_record(then: bytes = b"") -> tuple[int, bytes]:
    """Run stat (progress on a pty), Ctrl-C it once a record is counted, send ``then``, end.

    The progress line proves the first record was counted before the signal.
    Returns the exit status and what stat printed.
    """
    master, slave = pty.openpty()
    try:
        with subprocess.Popen(
            [STAT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=slave
        ) as proc:
            os.close(slave)
            assert proc.stdin is not None
            proc.stdin.write(ndjson(uploaded("a", 1000, ts=100.0, seconds=0.5)))
            proc.stdin.flush()
            assert b"\r1 records" in read_pty(master, until=b"\r1 records")
            proc.send_signal(signal.SIGINT)
            if then:
                time.sleep(0.5)
                proc.stdin.write(then)
            stdout, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
    return proc.returncode, stdout
