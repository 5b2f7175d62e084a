"""What every command shares: logging flags, exit codes, signals and broken pipes."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Final, NoReturn, TextIO

from s3pput import __version__, log
from s3pput.errors import InputError, OutputError
from s3pput.ndjson import write_record
from s3pput.records import Record

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandParser",
    "StageParser",
    "StopRequest",
    "add_logging_options",
    "close_stdout_quietly",
    "int_at_least",
    "interrupt_on_sigint",
    "positive_number",
    "require_stdout",
    "run",
    "say_if_waiting_on_a_terminal",
    "setup_logging",
    "stdin_is_closed",
    "stop_fatally",
]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130
EXIT_BROKEN_PIPE: Final = -1
"""Internal only: the reader went away; each command maps it to its own exit status."""


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """Add ``-v``/``-q``, ``--log-format`` and ``--log-file`` to a command."""
    group = parser.add_argument_group("logging (always on stderr or --log-file, never stdout)")
    group.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    group.add_argument("-q", "--quiet", action="count", default=0, help="less log output")
    group.add_argument(
        "--log-format",
        choices=["auto", "console", "json", "logfmt"],
        default="auto",
        help="console on a terminal, logfmt otherwise (default: auto)",
    )
    group.add_argument(
        "--log-file",
        "--log-filename",
        metavar="FILE",
        help="append logs to FILE instead of stderr",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")


def require_stdout(parser: argparse.ArgumentParser) -> None:
    """Exit 2 with a one-line reason when stdout is closed (``>&-``): records have nowhere to go.

    Python leaves ``sys.stdout`` as None then, and every write would end in a traceback.
    """
    if sys.stdout is None:
        parser.error("standard output is closed: there is nowhere to write to")


def stdin_is_closed(files: Sequence[str]) -> bool:
    """Whether input is to come from stdin and stdin is closed (``<&-``: Python's None)."""
    return "-" in files and sys.stdin is None


def stop_fatally(stage: str, error: str) -> int:
    """Say on stderr why the stage stops, tell the next stage too, and return EXIT_USAGE.

    The next stage learns it from a stop record on stdout: a failed record
    with ``"fatal": true`` and the reason, which put passes on and stat
    turns into a non-zero exit, so ``walk | put | stat`` cannot end in a
    clean summary when a stage died (and a cron job without pipefail
    notices). Nothing is written to a terminal, where a person reads the
    log line already, nor to a closed or broken stdout.
    """
    log.get_logger(stage).error("stopped", error=error)
    write_stop_record(stage, error)
    return EXIT_USAGE


def write_stop_record(stage: str, error: str) -> None:
    """Write the stop record (see ``stop_fatally``) when stdout is a pipe or a file."""
    stdout = sys.stdout
    if stdout is None:
        return
    try:
        if stdout.isatty():
            return
        stdout.flush()
        record = Record().failed(stage, error).evolve(extra={"fatal": True})
        write_record(stdout.buffer, record)
    except (OSError, ValueError):  # closed or gone: the exit status is all that is left
        return


class CommandParser(argparse.ArgumentParser):
    """Every command's parser: whole option names only, and usage errors people can act on.

    argparse's own error prints the whole usage (20 lines for put) and the
    message last, and accepts any unambiguous prefix of an option (``--dry``
    for ``--dry-run``), which a script may come to rely on until a new flag
    makes it ambiguous. Here an option must be spelled out, and an error is
    the message first, a suggestion for a misspelt option, and where the
    help is: at most four lines. The full usage is ``--help``'s.
    """

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)  # type: ignore[arg-type]  # argparse's own keywords
        self._argv: list[str] = []

    def parse_args(  # type: ignore[override]  # the same call, remembering argv
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse as argparse does; the arguments are kept to name an unknown option first.

        A shell asking for completions (argcomplete's scripts set ``_ARGCOMPLETE``)
        gets them from this parser, and the command ends there.
        """
        if "_ARGCOMPLETE" in os.environ:
            _answer_completion(self)
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_args(self._argv, namespace)

    def error(self, message: str) -> NoReturn:
        """Print the error, a suggestion if one fits, and where the help is; exit 2.

        An unknown option is named first even when argparse noticed something
        else before it: ``--bukcet B`` is a typo, not a missing ``--bucket``.
        """
        unknown = self._unknown_options()
        if unknown and not message.startswith(_UNKNOWN):
            message = _UNKNOWN + " ".join(unknown)
        lines = [f"{self.prog}: error: {message}"]
        lines += [f"  did you mean {hint}?" for hint in self._suggestions(unknown)]
        lines.append(f"Try '{self.prog} --help' for the options.")
        self.exit(EXIT_USAGE, "\n".join(lines) + "\n")

    def _known(self) -> list[str]:
        return [name for action in self._actions for name in action.option_strings]

    def _unknown_options(self) -> list[str]:
        """The ``--words`` on the command line that are no option of this command."""
        known = set(self._known())
        unknown = []
        for word in self._argv:
            if word == "--":
                break
            name = word.split("=", 1)[0]
            if name.startswith("--") and name not in known:
                unknown.append(name)
        return unknown

    def _suggestions(self, unknown: list[str]) -> list[str]:
        """The option closest to each unknown one, two at most."""
        known = self._known()
        hints = []
        for name in unknown:
            hints += difflib.get_close_matches(name, known, n=1, cutoff=0.7)
        return hints[:2]


_UNKNOWN: Final = "unrecognized arguments: "


def _answer_completion(parser: argparse.ArgumentParser) -> NoReturn:
    """Print the completions for the shell's command line and end: the command must not run.

    argcomplete is imported here only: a command that is run, not completed,
    never loads it (the start-up time of #15).
    """
    try:
        import argcomplete  # noqa: PLC0415  # only a TAB needs it
    except ImportError:  # completion scripts installed, library gone: no completions
        os._exit(EXIT_FAILED)
    argcomplete.autocomplete(parser)
    os._exit(EXIT_FAILED)  # not reached: argcomplete ends the process once it has answered


class StageParser(CommandParser):
    """A stage's parser, whose usage errors also go down the pipe as a stop record."""

    def __init__(self, stage: str, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.stage = stage

    def error(self, message: str) -> NoReturn:
        """Write the stop record, then report the error as every command does."""
        write_stop_record(self.stage, f"{self.prog}: {message}")
        super().error(message)


def say_if_waiting_on_a_terminal(prog: str, files: Sequence[str], what: str) -> None:
    """One line on stderr when records are to come from a terminal: nothing looks like a hang.

    ``s3pput-put --bucket B`` typed alone waits for lines on stdin; without
    this it looks stuck.
    """
    if "-" in files and sys.stdin is not None and sys.stdin.isatty():
        sys.stderr.write(f"{prog}: reading {what} from stdin (end with Ctrl-D)\n")
        sys.stderr.flush()


def positive_number(text: str) -> float:
    """An argparse ``type`` for a number above 0, such as a rate (bad ones exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def int_at_least(minimum: int) -> Callable[[str], int]:
    """Make an argparse ``type`` for whole numbers >= ``minimum`` (bad ones exit 2)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    return parse


def setup_logging(args: argparse.Namespace) -> TextIO | None:
    """Configure logging from parsed flags; return the log file to close, if any."""
    stream = open(args.log_file, "a", encoding="utf-8") if args.log_file else None  # noqa: SIM115  # the command's main closes it
    log.configure(
        verbosity=args.verbose - args.quiet,
        log_format=args.log_format,
        stream=stream,
    )
    return stream


def _terminate_as_interrupt(signum: int, frame: FrameType | None) -> None:  # noqa: ARG001  # signal handler signature
    """SIGTERM means what Ctrl-C means: drain, report, exit 130."""
    raise KeyboardInterrupt


def close_stdout_quietly() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail.

    This is CPython's own advice for SIGPIPE ("Note on SIGPIPE" in the signal docs).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def interrupt_on_sigint() -> None:
    """Make SIGINT raise KeyboardInterrupt even if the command started with it ignored.

    A script's background job starts with SIGINT ignored, and Python keeps
    it so; put's driver handles SIGINT anyway once it runs, so a ``kill
    -INT`` during the bucket check before it was lost (and the check waited
    out a dead endpoint). The whole run now answers SIGINT the same way.
    Called once, by ``run``: every command does its work (the bucket check
    too) inside it.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run(
    command: Callable[[], int], *, broken_pipe_code: int = EXIT_OK, stage: str | None = None
) -> int:
    """Run a command's body with the shared handling of signals and pipes.

    A reader that goes away ends the run quietly with ``broken_pipe_code``;
    input or output that fails (a full disk, EIO) is a fatal error: one
    line on stderr, exit 2 (and a stop record for the next stage, from a
    ``stage`` that writes records). Ctrl-C or SIGTERM exits 130 without a
    traceback.
    """
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    interrupt_on_sigint()
    try:
        return command()
    except InputError as exc:
        log.get_logger("input").error("cannot read the input", error=str(exc))
        if stage is not None:
            write_stop_record(stage, f"cannot read the input: {exc}")
        return EXIT_USAGE
    except OutputError as exc:
        log.get_logger("output").error(f"cannot write to {exc.target}", error=str(exc))
        close_stdout_quietly()
        return EXIT_USAGE
    except BrokenPipeError:
        close_stdout_quietly()
        return broken_pipe_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


class StopRequest:
    """Set by the first SIGINT/SIGTERM, so a loop can stop between two whole records.

    A KeyboardInterrupt raised in the middle of a write would cut a line in
    two, and the next stage would read half a record. The second signal
    still raises at once, for a walk stuck on a dead file system. With
    ``grace`` seconds, the first signal also raises once they have passed,
    for a read that may wait forever (stat on ``tail -f``).
    """

    def __init__(self, grace: int | None = None) -> None:
        self.requested = False
        self._grace = grace

    @contextlib.contextmanager
    def handling(self) -> Iterator[StopRequest]:
        """Handle SIGINT and SIGTERM this way inside the block (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        kinds = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
        previous = {kind: signal.getsignal(kind) for kind in kinds}
        for kind in kinds:
            signal.signal(kind, self._on_signal)
        try:
            yield self
        finally:
            signal.alarm(0)
            for kind, handler in previous.items():
                signal.signal(kind, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        del frame
        if signum == signal.SIGALRM or self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self._grace is not None:
            signal.alarm(self._grace)
