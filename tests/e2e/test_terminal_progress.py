"""The live progress line on a real terminal (a tmux pane), as a person sees it.

Each test runs the installed commands in a pane of 80 or 160 columns and
reads the screen: a warning of walk or put on its own line with the progress
line below it, never glued; a line that fits, with the failed count and the
ETA; records stopped by Ctrl-C shown as interrupted, not failed; the
one-command ``s3pput`` with an ETA it counted for itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from terminal import Terminal

PROGRESS = re.compile(r"^\d+(/\d+\+? files( \(\d+%\))?| records)(, |$)")
"""The start of a progress line: how far the run is."""

WALK_WARNING = "not a regular file: fifo"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z \[warning")
"""The start of a log line on a terminal (a long one wraps onto the next rows)."""


def progress_rows(rows: list[str]) -> list[str]:
    """The rows that hold a progress line."""
    return [row for row in rows if PROGRESS.match(row)]


def make_tree(root: Path, files: int) -> Path:
    """``files`` small files in ``root``/src; returns src."""
    src = root / "src"
    src.mkdir()
    for n in range(files):
        (src / f"f{n:03d}.txt").write_bytes(b"x" * (100 + n))
    return src


@pytest.mark.parametrize("columns", [80, 160])
def test_a_walk_warning_gets_its_own_line_and_the_progress_line_fits(
    tmp_path: Path, s3_env: dict[str, str], bucket: str, columns: int
) -> None:
    """In walk | put | stat, walk's warning mid-run wipes the line; stat draws it below, whole."""
    make_tree(tmp_path, 30)
    (tmp_path / "later").mkdir()
    subprocess.run(["mkfifo", str(tmp_path / "later" / "pipe")], check=True)
    # A second walk a second later finds the fifo while stat's line is on the screen; stat's
    # input then stays open, so its last line stays up to be read.
    command = (
        "{ s3pput-walk --count src; sleep 1; s3pput-walk later; } "
        f"| s3pput-put --bucket {bucket} | {{ cat; sleep 3600; }} | s3pput-stat"
    )
    with Terminal(command, columns=columns, env=s3_env, cwd=tmp_path) as terminal:
        rows = terminal.wait_for(
            lambda rows: (
                any(row.startswith("30/30 files (100%)") for row in rows)
                and any(LOG_LINE.match(row) for row in rows)
            )
        )

    warnings = [row for row in rows if LOG_LINE.match(row)]
    assert len(warnings) == 1, rows  # on a row of its own: not glued onto a progress line
    assert "failed" in warnings[0], rows
    assert sum("warning" in row for row in rows) == 1, rows
    [line] = progress_rows(rows)
    assert rows.index(line) > rows.index(warnings[0]), rows
    assert len(line) < columns, rows  # never wraps
    assert re.search(r", 1 failed, ETA 0:00$", line), rows  # the end of the line is there
    if columns >= 160:
        assert re.search(r", 30 uploaded, .* files/s, ", line), rows


def test_records_stopped_by_ctrl_c_are_not_shown_as_failed(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    """Ctrl-C in walk | put | stat: what put never finished or started is shown interrupted.

    stat runs in a session of its own and its input stays open, so the
    screen keeps the line it draws after put's answer to the Ctrl-C.
    """
    make_tree(tmp_path, 60)  # 15 s of uploads at this pace: Ctrl-C comes well before their end
    command = (
        f"s3pput-walk src | s3pput-put --bucket {bucket} -j 1 --max-requests 4 "
        "| ( trap '' INT; cat; exec sleep 3600 ) | setsid s3pput-stat"
    )
    with Terminal(command, columns=120, env=s3_env, cwd=tmp_path) as terminal:
        terminal.wait_for(lambda rows: any(re.search(r" [1-9]\d* uploaded", r) for r in rows))
        terminal.press("C-c")
        rows = terminal.wait_for(
            lambda rows: any(row.startswith("60 records") for row in progress_rows(rows))
        )

    [line] = progress_rows(rows)
    found = re.search(r" (\d+) uploaded, .*, 0 failed, (\d+) interrupted$", line)
    assert found is not None, rows
    assert int(found[1]) + int(found[2]) == 60, rows
    assert int(found[2]) > 0, rows


def test_the_one_command_shows_an_eta_it_counted_itself(
    tmp_path: Path, s3_env: dict[str, str], bucket: str
) -> None:
    """s3pput SRC without --count counts ahead while it uploads, so its line has an ETA."""
    make_tree(tmp_path, 40)
    command = f"s3pput src --bucket {bucket} --max-requests 8"
    with Terminal(command, columns=80, env=s3_env, cwd=tmp_path) as terminal:
        rows = terminal.wait_for(
            lambda rows: any(
                re.match(r"^\d+/40 files \(\d+%\), .*ETA \d+:\d\d$", row) for row in rows
            )
        )
        summary = terminal.wait_for(lambda rows: any(row.startswith("put ") for row in rows))

    assert all(len(row) < 80 for row in progress_rows(rows)), rows
    assert not progress_rows(summary), summary  # cleared before the summary


def test_walk_count_logs_each_warning_once(tmp_path: Path) -> None:
    """--count walks twice; an unreadable entry is reported once, and a log pipe stays clean."""
    src = make_tree(tmp_path, 3)
    subprocess.run(["mkfifo", str(src / "pipe")], check=True)

    done = subprocess.run(
        ["s3pput-walk", "--count", str(src)], capture_output=True, check=False, timeout=60
    )

    assert done.returncode == 1
    assert done.stderr.count(WALK_WARNING.encode()) == 1, done.stderr
    assert b"\r" not in done.stderr
    assert b"\x1b" not in done.stderr
