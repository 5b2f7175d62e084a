"""Logging for every stage: structlog to stderr, never stdout (stdout carries records)."""

from __future__ import annotations

import logging
import sys
from typing import Final, Literal, TextIO, TypeAlias

import structlog

__all__ = ["LogFormat", "configure", "enabled", "get_logger"]

LogFormat: TypeAlias = Literal["auto", "console", "json", "logfmt"]

_LEVELS: Final = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL)
_level = logging.WARNING


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
    out = stream if stream is not None else sys.stderr
    index = max(0, min(len(_LEVELS) - 1, 2 - verbosity))
    global _level  # noqa: PLW0603  # one logging configuration per process, as structlog's own
    _level = _LEVELS[index]
    if log_format == "auto":
        log_format = "console" if out.isatty() else "logfmt"
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    elif log_format == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    else:
        renderer = structlog.processors.LogfmtRenderer(
            key_order=["timestamp", "level", "event"], drop_missing=True
        )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[index]),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )


def enabled(level: int) -> bool:
    """Whether events at ``level`` are shown, so a hot path can skip building them."""
    return level >= _level


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    """Return a logger that tags each event with the stage that wrote it.

    It is a lazy proxy, so a module-level logger obeys the ``configure`` made later.
    """
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(stage=name)
    return logger


if not structlog.is_configured():
    # structlog's own default prints to stdout, which carries records: never use it.
    configure()
