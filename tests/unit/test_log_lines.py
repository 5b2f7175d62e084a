"""Log lines on a terminal wipe the progress line first; elsewhere they stay byte-clean."""

from __future__ import annotations

import io
import os
import pty
import select
import threading
import time
from collections.abc import Iterator

import pytest

from s3pput import log


@pytest.fixture(name="restore_logging", autouse=True)
def fixture_restore_logging() -> Iterator[None]:
    """Each test configures logging for itself; the next test gets the default back."""
    yield
    log.configure()


def test_on_a_terminal_every_line_first_wipes_the_line_it_lands_on() -> None:
    """A warning from walk or put replaces stat's progress line instead of being glued to it."""
    master, slave = pty.openpty()
    try:
        with open(slave, "w", encoding="utf-8", closefd=True) as terminal:
            log.configure(stream=terminal, log_format="logfmt")
            log.get_logger("walk").warning("failed", path="a")
            log.get_logger("walk").warning("failed", path="b")
            # Read while the terminal is open: the kernel hands written bytes to the
            # other end a moment later, and a closed end may lose them (seen on a busy machine).
            shown = read_lines(master, 2)
    finally:
        os.close(master)

    lines = shown.split(b"\r\n")  # the terminal turns each \n into \r\n
    assert lines[0].startswith(b"\r\x1b[Ktimestamp=")
    assert lines[1].startswith(b"\r\x1b[Ktimestamp=")
    assert b"path=b" in lines[1]


def read_lines(fd: int, count: int, timeout: float = 10.0) -> bytes:
    """What arrives at ``fd`` until ``count`` line ends have, or ``timeout`` passes."""
    shown = b""
    deadline = time.monotonic() + timeout
    while shown.count(b"\n") < count and (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            shown += os.read(fd, 4096)
    return shown


@pytest.mark.parametrize("log_format", ["console", "logfmt", "json"])
def test_logs_to_a_file_or_pipe_have_no_terminal_codes(log_format: log.LogFormat) -> None:
    """A log file or a pipe gets the lines as before: no escape, no carriage return."""
    stream = io.StringIO()
    log.configure(stream=stream, log_format=log_format)

    log.get_logger("put").warning("failed", key="k")

    assert "\r" not in stream.getvalue()
    assert "\x1b" not in stream.getvalue()
    assert stream.getvalue().count("\n") == 1


def test_a_muted_thread_logs_nothing_while_others_still_do() -> None:
    """The first pass of walk --count is silent; the pass that writes records reports failures."""
    stream = io.StringIO()
    log.configure(stream=stream, log_format="logfmt")
    logger = log.get_logger("walk")
    inside = threading.Event()
    go_on = threading.Event()

    def muted_pass() -> None:
        with log.muted():
            logger.warning("failed", path="first pass")
            assert not log.enabled(log.ERROR)
            inside.set()
            assert go_on.wait(30)
        logger.warning("failed", path="after the pass")

    thread = threading.Thread(target=muted_pass)
    thread.start()
    assert inside.wait(30)
    logger.warning("failed", path="second pass")
    go_on.set()
    thread.join(30)

    text = stream.getvalue()
    assert "first pass" not in text
    assert "path=second pass" in text.replace('"', "")
    assert "path=after the pass" in text.replace('"', "")
