"""Logging for every stage: structlog to stderr, never stdout (stdout carries records).

structlog is imported at the first event, not at start-up: most runs log
nothing, and each stage of a pipeline would otherwise pay ~50 ms for it.

On a terminal every line starts by wiping the line it is written on: in
``walk | put | stat`` all three stages write to one terminal, where stat
keeps a progress line that a warning from walk or put would otherwise be
glued onto (stat draws it again after). Logs to a file or a pipe are left
byte for byte as they were.
"""

from __future__ import annotations

import _thread
import contextlib
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO, TypeAlias

from s3pput.printable import escape_controls

if TYPE_CHECKING:
    import structlog

__all__ = [
    "DEBUG",
    "ERROR",
    "INFO",
    "WARNING",
    "LogFormat",
    "Logger",
    "configure",
    "enabled",
    "get_logger",
    "muted",
]

LogFormat: TypeAlias = Literal["auto", "console", "json", "logfmt"]

DEBUG: Final = 10
INFO: Final = 20
WARNING: Final = 30
ERROR: Final = 40
CRITICAL: Final = 50
"""The standard library's levels, which structlog's filtering logger compares with; written
here because importing logging costs about 5 ms at every start, and most runs log nothing."""
_LEVELS: Final = (DEBUG, INFO, WARNING, ERROR, CRITICAL)
_level = WARNING

LINE_START: Final = "\r\x1b[K"
"""What starts every log line on a terminal: back to the line's start, and erase it."""

_muted_threads: set[int] = set()
"""Threads whose events are dropped (see ``muted``); read without a lock, written by each
thread for itself only."""


@dataclass(frozen=True)
class _Settings:
    level: int
    log_format: LogFormat
    stream: TextIO


_silenced = False
"""Set when the log stream cannot be written: later events are dropped, the run goes on."""
_pending: _Settings | None = None
"""A configuration asked for before structlog was imported; applied at the first event."""


def configure(
    *,
    verbosity: int = 0,
    log_format: LogFormat = "auto",
    stream: TextIO | None = None,
) -> None:
    """Send logs to ``stream`` (stderr by default) at a level set by ``-v``/``-q``.

    ``verbosity`` 0 shows warnings and errors; each ``-v`` adds a level
    (info, then debug) and each ``-q`` removes one. ``auto`` is readable
    on a terminal and logfmt elsewhere, so logs in a file stay greppable.
    """
    global _level, _pending, _silenced  # noqa: PLW0603  # one logging configuration per process, as structlog's own
    _silenced = False
    _level = _LEVELS[max(0, min(len(_LEVELS) - 1, 2 - verbosity))]
    settings = _Settings(_level, log_format, stream if stream is not None else sys.stderr)
    if "structlog" in sys.modules:
        _apply(settings)
        _pending = None
    else:
        _pending = settings


def _apply(settings: _Settings) -> None:
    import structlog  # noqa: PLC0415  # imported at the first event: see the module docstring

    out = settings.stream
    log_format = settings.log_format
    if log_format == "auto":
        log_format = "console" if out.isatty() else "logfmt"
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    elif log_format == "console":
        # Plain tracebacks: with rich installed, structlog would print every frame's
        # locals, and a frame that holds credentials would print them.
        renderer = structlog.dev.ConsoleRenderer(
            colors=out.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    else:
        renderer = structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "event"], drop_missing=True
        )
    escaping: list[structlog.typing.Processor] = [] if log_format == "json" else [_escape_controls]
    wiping: list[structlog.typing.Processor] = [_wipe_the_line] if out.isatty() else []
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *escaping,
            renderer,
            *wiping,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(settings.level),
        # One write per line (print() makes two): put's worker processes share stderr, and a
        # line written whole is never cut by another process's (up to PIPE_BUF, 4 KiB).
        logger_factory=structlog.WriteLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def _escape_controls(_: object, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Escape control characters in every text field of a console or logfmt line.

    These are read on terminals, and a key may hold an escape sequence or a
    line break; JSON logs escape them already.
    """
    return {
        name: escape_controls(value) if isinstance(value, str) else value
        for name, value in event.items()
    }


def _wipe_the_line(_: object, __: str, line: Any) -> str:  # noqa: ANN401  # structlog types every processor's input as a mapping; after the renderer it is the line
    """Start a rendered line by erasing the terminal's current one (a progress line, say)."""
    return LINE_START + str(line)


def _structlog() -> Any:  # noqa: ANN401  # the structlog module, imported late
    """structlog, configured: as asked, or else to stderr (its own default is stdout)."""
    global _pending  # noqa: PLW0603  # see configure
    import structlog  # noqa: PLC0415  # imported at the first event: see the module docstring

    if _pending is not None:
        _apply(_pending)
        _pending = None
    elif not structlog.is_configured():
        _apply(_Settings(_level, "auto", sys.stderr))
    return structlog


def enabled(level: int) -> bool:
    """Whether events at ``level`` are shown, so a hot path can skip building them."""
    return level >= _level and (not _muted_threads or _thread.get_ident() not in _muted_threads)


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """Drop every event this thread logs inside the block; other threads log as before.

    For a second pass over what was logged once already: ``s3pput-walk
    --count`` walks its sources twice, and each unreadable file must be
    reported once, not twice.
    """
    me = _thread.get_ident()
    if me in _muted_threads:
        yield
        return
    _muted_threads.add(me)
    try:
        yield
    finally:
        _muted_threads.discard(me)


class Logger:
    """A stage's logger: every event is tagged with the stage that wrote it."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def _emit(self, level: int, method: str, event: str, fields: dict[str, Any]) -> None:
        global _silenced  # noqa: PLW0603  # one log stream per process
        if _silenced or not enabled(level):
            return
        try:
            getattr(_structlog().get_logger(stage=self.stage), method)(event, **fields)
        except OSError:
            # The log's reader went away (``2>&1 | head``) or its disk is full: the
            # uploads and their records on stdout go on, without a log.
            _silenced = True

    def debug(self, event: str, **fields: Any) -> None:  # noqa: ANN401  # any loggable value
        """Log at debug level."""
        self._emit(DEBUG, "debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:  # noqa: ANN401  # any loggable value
        """Log at info level."""
        self._emit(INFO, "info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:  # noqa: ANN401  # any loggable value
        """Log at warning level."""
        self._emit(WARNING, "warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:  # noqa: ANN401  # any loggable value
        """Log at error level."""
        self._emit(ERROR, "error", event, fields)


def get_logger(name: str) -> Logger:
    """Return the logger of a stage; it obeys a ``configure`` made after it was created."""
    return Logger(name)
