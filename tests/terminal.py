"""A terminal of a chosen size, read as a person sees it: a tmux pane on a private server.

A pipeline's stages share one terminal; what ends up on the screen (a line
wiped and redrawn, a warning glued to a progress line, a line that wrapped)
only shows once a terminal has interpreted the bytes, which tmux does. Each
``Terminal`` starts its own tmux server (its own socket, no configuration
file, the caller's environment) and kills it, with whatever still runs in
the pane, when the block ends.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["Terminal"]

_SESSION = "main"


class Terminal:
    """One shell command in a tmux pane of ``columns`` x ``rows``; the pane stays after it ends."""

    def __init__(
        self, command: str, *, columns: int, rows: int = 24, env: dict[str, str], cwd: Path
    ) -> None:
        self.command = command
        self.columns = columns
        self.rows = rows
        self._env = env
        self._cwd = cwd
        self._socket = f"s3pput-test-{secrets.token_hex(6)}"
        self._socket_path = ""

    def __enter__(self) -> Self:
        # The pane outlives the command, so the screen can be read after it ends.
        held = f"{self.command}; sleep 3600"
        self._tmux(
            "new-session",
            "-d",
            "-s",
            _SESSION,
            "-x",
            str(self.columns),
            "-y",
            str(self.rows),
            "-c",
            str(self._cwd),
            f"bash --norc --noprofile -c {shlex.quote(held)}",
        )
        self._socket_path = self._tmux("display-message", "-p", "#{socket_path}").strip()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Ends the server, which hangs up on the pane's processes; tmux leaves its socket.
        self._tmux("kill-server", check=False)
        if self._socket_path:
            Path(self._socket_path).unlink(missing_ok=True)

    def screen(self) -> list[str]:
        """The rows on the screen now, top to bottom, without trailing blanks."""
        shown = self._tmux("capture-pane", "-p", "-t", _SESSION)
        return [row.rstrip() for row in shown.splitlines()]

    def wait_for(self, shows: Callable[[list[str]], bool], timeout: float = 120) -> list[str]:
        """Poll the screen until ``shows(rows)`` holds; fail showing the last screen if never."""
        deadline = time.monotonic() + timeout
        rows = self.screen()
        while not shows(rows):
            if time.monotonic() > deadline:
                shown = "\n".join(rows)
                raise AssertionError(f"the terminal never showed it; it shows:\n{shown}")
            time.sleep(0.1)
            rows = self.screen()
        return rows

    def press(self, *keys: str) -> None:
        """Type keys into the pane, in tmux's names (``C-c`` is Ctrl-C)."""
        self._tmux("send-keys", "-t", _SESSION, *keys)

    def _tmux(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self._socket, "-f", "/dev/null", *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {done.stderr.strip()}")
        return done.stdout
