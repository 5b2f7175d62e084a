"""Manual pages and shell completion for every command, made from the commands' own parsers.

``scripts/shell_files.py`` writes them into a prefix (``make install``: the
venv). Each page is rendered by groff and must list every option its parser
has; each shell completes a real command line by asking the installed
command (argcomplete), driven as the shell itself would: bash through its
completion function, fish through ``complete -C``, zsh through a
pseudo-terminal (zsh's ``zpty``) where TAB is pressed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parents[2]
SCRIPT: Final = ROOT / "scripts" / "shell_files.py"
BIN: Final = Path(sys.executable).parent


def load_script() -> ModuleType:
    """scripts/shell_files.py as a module (scripts are run, not installed)."""
    spec = importlib.util.spec_from_file_location("shell_files", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SHELL_FILES: Final = load_script()
COMMANDS: Final[dict[str, str]] = SHELL_FILES.commands()


def needs(program: str) -> str:
    """The path of a shell the tests drive; scripts/system-deps.sh --test installs it."""
    found = shutil.which(program)
    assert found is not None, f"{program} is missing: bash scripts/system-deps.sh --test"
    return found


@pytest.fixture(name="prefix", scope="module")
def fixture_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prefix the script has written every page and completion into."""
    prefix = tmp_path_factory.mktemp("prefix")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return prefix


@pytest.fixture(name="env")
def fixture_env() -> dict[str, str]:
    """The environment of a user whose PATH has the installed commands."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def option_names(parser: argparse.ArgumentParser) -> list[str]:
    """Every option string a user can type, but -h/--help (which the page is)."""
    return [
        name
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        for name in action.option_strings
    ]


def test_the_commands_are_the_installed_ones() -> None:
    """Pages and completions are made for every console script pyproject.toml installs."""
    assert set(COMMANDS) == {
        "s3pput",
        "s3-parallel-put",
        "s3pput-walk",
        "s3pput-put",
        "s3pput-stat",
        "s3pput-local-s3",
    }


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_manual_page_renders_and_lists_every_option(prefix: Path, command: str) -> None:
    """The page renders under groff without a warning, and every option of the parser is in it."""
    page = prefix / "share" / "man" / "man1" / f"{command}.1"
    done = subprocess.run(
        [needs("groff"), "-man", "-Tutf8", "-ww", "-rHY=0", "-rLL=300n", "-P-cbou", str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    text = done.stdout
    assert text.startswith(f"{command.upper()}(1)")
    body = text.split("DESCRIPTION", 1)[1]  # past the synopsis, which lists them all too
    words = set(body.replace(",", " ").split())
    parser = SHELL_FILES.parser_of(command, COMMANDS[command])
    missing = [name for name in option_names(parser) if name not in words]
    assert missing == [], f"{command}(1) does not describe {missing}"
    assert "SEE ALSO" in text


def bash_completes(prefix: Path, env: dict[str, str], line: str) -> list[str]:
    """What bash's completion function offers for ``line`` (the cursor at its end)."""
    command = line.split(maxsplit=1)[0]
    script = prefix / "share" / "bash-completion" / "completions" / command
    driver = (
        f'source "{script}"\n'
        'COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9\n'
        'read -ra COMP_WORDS <<< "$1"; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n'
        '_python_argcomplete "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" '
        '"${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [needs("bash"), "-c", driver, "bash", line],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_an_option_of_put(prefix: Path, env: dict[str, str]) -> None:
    """``s3pput-put --buc<TAB>`` offers --bucket; ``--endp<TAB>`` is --endpoint-url alone.

    An option's value is completed from its choices too: ``--put u<TAB>`` is update.
    """
    assert "--bucket" in bash_completes(prefix, env, "s3pput-put --buc")
    assert bash_completes(prefix, env, "s3pput-put --endp") == ["--endpoint-url"]
    assert bash_completes(prefix, env, "s3pput-put --put u") == ["update"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_bash_completes_every_command(prefix: Path, env: dict[str, str], command: str) -> None:
    """Each command's script answers with that command's own options (here its --version)."""
    assert bash_completes(prefix, env, f"{command} --vers") == ["--version"]


def test_fish_completes_an_option_of_put(prefix: Path, env: dict[str, str]) -> None:
    """The fish script loads, and ``complete -C`` offers --endpoint-url with its help text."""
    script = prefix / "share" / "fish" / "vendor_completions.d" / "s3pput-put.fish"
    done = subprocess.run(
        [needs("fish"), "--no-config", "-c", f"source {script}; complete -C 's3pput-put --endp'"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.splitlines() == [
        "--endpoint-url\tS3-compatible endpoint, e.g. http://127.0.0.1:8333"
    ]


ZSH_DRIVER: Final = r"""
zmodload zsh/zpty
zpty shell zsh -f -i
zpty -w shell "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; bindkey -e; PROMPT='> '"
zpty -n -w shell "s3pput-put --endp"$'\t'
sleep 1
zpty -n -w shell $'\x01print -r -- COMPLETED: \x05\n'
zpty -r -m shell out $'*\nCOMPLETED: s3pput-put --endpoint-url\r*'
zpty -d shell
"""
"""Type ``--endp``, press TAB, then print the line the completion left; wait for that output."""


def test_zsh_completes_an_option_of_put(prefix: Path, env: dict[str, str]) -> None:
    """In an interactive zsh with the script on fpath, TAB turns --endp into --endpoint-url."""
    functions = prefix / "share" / "zsh" / "site-functions"
    assert (functions / "_s3pput-put").read_text().startswith("#compdef s3pput-put")
    done = subprocess.run(
        [needs("zsh"), "-f", "-c", ZSH_DRIVER, "zsh", str(functions)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
