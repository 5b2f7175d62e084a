"""Usage errors people can act on: the message first, a suggestion, no 20-line usage block.

Every command runs for real (a subprocess; none of these reaches a server).
Options must be spelled out: argparse's prefix matching, which let ``--dry``
mean ``--dry-run`` until a new flag made it ambiguous, is off.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
COMMANDS = ["s3pput-walk", "s3pput-put", "s3pput-stat", "s3pput", "s3pput-local-s3"]
MOST_LINES = 5


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """A command with its stdin empty; what it printed and its status."""
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_a_misspelt_option_is_named_with_a_suggestion_in_a_few_lines(command: str) -> None:
    """``--hepl``: exit 2, the error on the first line, ``--help`` suggested, <= 5 lines."""
    done = run(command, "--hepl")
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == f"{command}: error: unrecognized arguments: --hepl"
    assert "did you mean --help?" in done.stderr
    assert f"Try '{command} --help'" in lines[-1]
    assert len(lines) <= MOST_LINES, done.stderr
    assert "usage:" not in done.stderr


def test_a_typo_is_reported_before_the_option_it_misses() -> None:
    """``--bukcet B`` is a typo of ``--bucket``, not a missing ``--bucket``."""
    done = run("s3pput-put", "--bukcet", "B")
    assert done.returncode == 2
    assert done.stderr.splitlines()[:2] == [
        "s3pput-put: error: unrecognized arguments: --bukcet",
        "  did you mean --bucket?",
    ]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("s3pput-put", ["--bucket", "B", "--put", "stupid", "--dry"]),
        ("s3pput-walk", ["--pre", "p", "."]),
        ("s3pput-stat", ["--js"]),
    ],
)
def test_a_prefix_of_an_option_is_not_that_option(command: str, args: list[str]) -> None:
    """``--dry`` is not ``--dry-run`` (nor ``--pre`` ``--prefix``): exit 2, with the suggestion."""
    done = run(command, *args)
    assert done.returncode == 2
    assert "did you mean --" in done.stderr, done.stderr


def test_the_full_usage_is_for_help() -> None:
    """``--help`` still prints every option."""
    done = run("s3pput-put", "--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: s3pput-put")
    assert "--multipart-threshold" in done.stdout
