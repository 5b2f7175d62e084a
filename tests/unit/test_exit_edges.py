"""Exit-code edges: a closed stdin, an --output that cannot be written. One line, exit 2.

The real commands run (no server: a dry run of ``--put stupid`` sends nothing).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``command`` in bash with the venv's commands first on PATH."""
    return subprocess.run(
        ["bash", "-c", f'PATH="{BIN}:$PATH"; {command}'],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("command", "stage"),
    [
        ("s3pput-stat", "stat"),
        ("s3pput-put --bucket b --put stupid --dry-run", "put"),
        ("s3pput-walk --files-from -", "walk"),
    ],
)
def test_a_closed_stdin_is_one_line_and_exit_2(command: str, stage: str, tmp_path: Path) -> None:
    """``<&-``: no traceback, one error line naming standard input."""
    done = shell(f"{command} <&-", tmp_path)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert f"stage={stage}" in line
    assert "standard input is closed" in line


def test_an_output_file_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    """``s3pput --output /dev/full``: one line naming /dev/full (not stdout), exit 2."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f").write_bytes(b"x")
    done = shell(
        "s3pput --bucket b --put stupid --dry-run --no-progress --output /dev/full src", tmp_path
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert 'event="cannot write to /dev/full"' in line
    assert "No space left on device" in line
