"""Opening the files put uploads: regular files only, and never blocking on a fifo.

A path can be swapped for a fifo or a device between walk and put; opening
it for reading would then block the thread for good. Every open and stat
of a file to upload goes through here. This module knows paths and
descriptors only: nothing of records, keys or the bucket.
"""

from __future__ import annotations

import os
import stat
from typing import IO

from s3pput.errors import NotRegularFileError

__all__ = ["check_regular", "file_kind", "open_regular", "stat_regular"]


def file_kind(mode: int) -> str:
    """What a ``stat`` mode is, in the words walk uses for it too."""
    kinds = (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    )
    return next((name for test, name in kinds if test(mode)), "special file")


def check_regular(result: os.stat_result, path: str) -> os.stat_result:
    """``result`` if it is a regular file's; raise NotRegularFileError naming the kind otherwise."""
    if not stat.S_ISREG(result.st_mode):
        raise NotRegularFileError(f"not a regular file: {file_kind(result.st_mode)}: {path}")
    return result


def stat_regular(path: str) -> os.stat_result:
    """``stat`` a path that must be a regular file; a fifo is refused without opening it."""
    return check_regular(os.stat(path), path)  # noqa: PTH116  # paths are surrogate-escaped str


def open_regular(path: str) -> IO[bytes]:
    """Open a regular file for reading; refuse fifos and devices without blocking on them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except ValueError as exc:  # a NUL byte in a path made by hand
        raise NotRegularFileError(f"cannot open path: {exc}") from None
    try:
        check_regular(os.fstat(fd), path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
