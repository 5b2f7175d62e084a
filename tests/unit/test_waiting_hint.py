"""A stage typed alone at a terminal says it is waiting for records, instead of looking hung.

Runs the real commands with stdin on a pseudo-terminal (no server: put sends
nothing in a dry run of ``--put stupid``); Ctrl-D ends the input.
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
CASES = [
    (["s3pput-stat"], "s3pput-stat: reading put's result records from stdin (end with Ctrl-D)"),
    (
        ["s3pput-put", "--bucket", "b", "--put", "stupid", "--dry-run"],
        "s3pput-put: reading file records from stdin (end with Ctrl-D)",
    ),
]


@pytest.mark.parametrize(("command", "hint"), CASES, ids=["stat", "put"])
def test_a_terminal_on_stdin_gets_one_line_saying_so(command: list[str], hint: str) -> None:
    """The line comes before any input; Ctrl-D then ends the run cleanly."""
    main, side = pty.openpty()
    try:
        stage = subprocess.Popen(
            [str(BIN / command[0]), *command[1:]],
            stdin=side,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.close(side)
        assert stage.stderr is not None
        ready, _, _ = select.select([stage.stderr], [], [], 30)
        assert ready, "nothing said on stderr while waiting for input"
        assert stage.stderr.readline().decode().rstrip("\n") == hint
        os.write(main, b"\x04")  # Ctrl-D: the end of the input
        _, err = stage.communicate(timeout=60)
    finally:
        os.close(main)
    assert stage.returncode == 0, err.decode()


@pytest.mark.parametrize(("command", "hint"), CASES, ids=["stat", "put"])
def test_a_pipe_on_stdin_gets_no_such_line(command: list[str], hint: str) -> None:
    """In a pipeline nothing is said: stdin is not a terminal."""
    done = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        input=b"",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert hint.encode() not in done.stderr
