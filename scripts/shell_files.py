"""Write the manual pages and the bash, zsh and fish completions of every command into a prefix.

Nothing here is written by hand: the commands are the ``[project.scripts]``
of pyproject.toml, each page is argparse-manpage's rendering of the
command's own parser (its module's ``build_parser``), and each completion
script is argcomplete's, which asks the installed command for its options on
every TAB (so it never goes stale; the command answers before it loads
anything heavy). ``make install`` runs it with ``--prefix .venv``:

    PREFIX/share/man/man1/COMMAND.1
    PREFIX/share/bash-completion/completions/COMMAND
    PREFIX/share/zsh/site-functions/_COMMAND
    PREFIX/share/fish/vendor_completions.d/COMMAND.fish
"""

from __future__ import annotations

import argparse
import importlib
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from argcomplete.shell_integration import shellcode
from argparse_manpage.manpage import Manpage

from s3pput import __version__

__all__ = ["commands", "completion_files", "main", "manual_page", "parser_of"]

PYPROJECT: Final = Path(__file__).resolve().parents[1] / "pyproject.toml"
SHELLS: Final = {
    "bash": "share/bash-completion/completions/{command}",
    "zsh": "share/zsh/site-functions/_{command}",
    "fish": "share/fish/vendor_completions.d/{command}.fish",
}
MAN_PAGE: Final = "share/man/man1/{command}.1"


def commands(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """Each installed command and its entry point (``module:function``), as pip installs them."""
    with pyproject.open("rb") as file:
        scripts: dict[str, str] = tomllib.load(file)["project"]["scripts"]
    return scripts


def parser_of(command: str, entry_point: str) -> argparse.ArgumentParser:
    """The parser the command itself uses: ``build_parser()`` beside its ``main``."""
    module = importlib.import_module(entry_point.split(":", 1)[0])
    parser: argparse.ArgumentParser = module.build_parser()
    parser.prog = command  # s3-parallel-put is s3pput's parser under its old name
    return parser


def manual_page(command: str, parser: argparse.ArgumentParser, others: list[str]) -> str:
    """The roff source of ``command``'s page, with the other commands under SEE ALSO."""
    page = Manpage(parser)
    page.source = f"s3pput {__version__}"
    page.manual = "s3pput manual"
    page.description = parser.description
    see_also = ", ".join(rf"\fB{other}\fR(1)" for other in others if other != command)
    page.add_section("SEE ALSO", "=", see_also)
    return str(page)


def completion_files(command: str) -> Iterator[tuple[str, str]]:
    """Each shell's completion script for ``command``: (path under the prefix, text)."""
    for shell, path in SHELLS.items():
        yield path.format(command=command), shellcode([command], shell=shell)


def main() -> int:
    """Write every command's page and completions under ``--prefix``; list what was written."""
    cli = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    cli.add_argument("--prefix", type=Path, required=True, help="e.g. .venv or ~/.local")
    prefix: Path = cli.parse_args().prefix
    table = commands()
    for command, entry_point in table.items():
        page = manual_page(command, parser_of(command, entry_point), [*table])
        files = [(MAN_PAGE.format(command=command), page), *completion_files(command)]
        for relative, text in files:
            target = prefix / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            print(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
