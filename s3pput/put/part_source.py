"""The bytes of one upload in parts: read where they lie, hashed as sent, checked unchanged.

A part's body is a window of an open file read with ``pread``, so any number
of parts can be in flight at once. Every body the native client reads is
hashed on the way (MD5 and the ``--checksum``), so what the store says it
stored can be held against the bytes that really left, not against a read
made before or after. And the file must be the version put looked at: its
identity (device, inode, size, modification and change times) is checked
against that ``stat`` before the upload, after each part and before it is
completed, so a file rewritten in place while it goes up fails instead of
becoming a mix of two versions recorded with the first one's MD5.

It knows nothing of S3 requests or upload ids (parts.py does).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator

from s3pput.errors import ChangedWhileUploadingError
from s3pput.put.body import CHANGED, same_version
from s3pput.transport.checksums import RunningChecksum
from s3pput.units import MiB

__all__ = ["HashedBody", "PartSource"]


class PartSource:
    """Bytes of one upload, read with ``pread`` from an open file: a whole file or a window.

    A window (``base``) is how a member of an uncompressed tar is sent
    without extracting it. ``expected`` is the ``stat`` of the version to
    send (put's, made before it read the file's MD5); None checks nothing.
    """

    def __init__(
        self, fd: int, size: int, base: int = 0, expected: os.stat_result | None = None
    ) -> None:
        self.fd = fd
        self.size = size
        self.base = base
        self.expected = expected
        self.shrank = False
        """Set when a part's body met the file's end early: the file was cut while it went up."""

    def window(self, offset: int, length: int) -> io.RawIOBase | io.BytesIO:
        """A file object over ``length`` bytes from ``offset``: a part's body."""
        return _Window(self, self.base + offset, length)

    def chunks(self, offset: int, length: int) -> Iterator[bytes]:
        """The bytes of one part, a MiB at a time (to check a part already sent)."""
        done = 0
        while done < length:
            data = os.pread(self.fd, min(MiB, length - done), self.base + offset + done)
            if not data:
                raise OSError(f"file shrank while it was read (at byte {offset + done})")
            done += len(data)
            yield data

    def check_unchanged(self) -> None:
        """Raise ChangedWhileUploadingError if the open file is not the expected version now."""
        if self.expected is None or self.fd < 0:
            return
        if not same_version(self.expected, os.fstat(self.fd)):
            raise ChangedWhileUploadingError(CHANGED)

    def changed(self) -> bool:
        """Whether the file was cut short under a part, or is no longer the expected version.

        Asked when a part failed: the native client names a body that ended
        early only ``AWS_ERROR_UNKNOWN``, and the record should say why.
        """
        if self.shrank:
            return True
        try:
            self.check_unchanged()
        except (ChangedWhileUploadingError, OSError):
            return True
        return False


class _Rewindable(io.RawIOBase):
    """A body the native client reads, and rewinds to retry; ``_position`` is where it is."""

    _position = 0

    def readable(self) -> bool:
        """Yes: the native client reads it."""
        return True

    def seekable(self) -> bool:
        """Yes: the native client may rewind it."""
        return True

    def tell(self) -> int:
        """Where the next read starts."""
        return self._position


class _Window(_Rewindable):
    """``length`` bytes of a file from ``start``; seekable, since the CRT rewinds to retry.

    A file that ends before the window does is marked on its source and read
    as ended: raising instead would reach the native client, which prints a
    traceback and reports only "Unknown error". The request then fails for
    its short body, and the part's failure is read as the file changing.
    """

    def __init__(self, source: PartSource, start: int, length: int) -> None:
        super().__init__()
        self._source = source
        self._fd = source.fd
        self._start = start
        self._length = length
        self._position = 0

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = min(len(buffer), self._length - self._position)
        if want <= 0:
            return 0
        data = os.pread(self._fd, want, self._start + self._position)
        if not data:
            self._source.shrank = True
            return 0
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position


class HashedBody(_Rewindable):
    """A part's body that hashes what the native client reads of it, in order.

    Only bytes read in sequence from the start count; a rewind to the start
    begins again. ``digests()`` is None unless the whole body was read so.
    """

    def __init__(self, body: io.RawIOBase | io.BytesIO, length: int, algorithm: str) -> None:
        super().__init__()
        self._body = body
        self._length = length
        self._algorithm = algorithm
        self._restart()

    def _restart(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._checksum = RunningChecksum(self._algorithm)
        self._hashed = 0
        self._position = 0

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read the next bytes of the body into ``buffer``, hashing them."""
        count = self._body.readinto(buffer) or 0
        if count and self._position == self._hashed:
            view = memoryview(buffer)[:count]
            self._md5.update(view)
            self._checksum.update(view)
            self._hashed += count
        self._position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move in the body; back at its start, the hashing starts again."""
        self._position = self._body.seek(offset, whence)
        if self._position == 0:
            self._restart()
        return self._position

    def digests(self) -> tuple[str, str] | None:
        """(MD5 hex, ``--checksum`` base64) of the body as it was read; None if not read whole."""
        if self._hashed != self._length:
            return None
        return self._md5.hexdigest(), self._checksum.value()
