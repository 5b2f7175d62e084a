"""s3pput's exceptions, in one place, so that any module can raise or catch them.

Part of the contract: a stage raises one of these and another stage, or the
command layer, catches it; kept apart so that neither has to import the
other (structlog's ``exceptions.py`` exists for the same reason). Each is a
plain class with a one-line message. A failure of one record becomes a
failed record (docs/records.md); an exception leaves a stage only for what
stops the whole run. This module imports nothing of s3pput and knows no
library: botocore's errors are read in transport/errors.py.
"""

from __future__ import annotations

__all__ = [
    "BucketError",
    "ChangedWhileUploadingError",
    "HeaderError",
    "InputError",
    "ListingUnavailableError",
    "ListingUnreadableError",
    "MemberError",
    "NotRegularFileError",
    "OutputError",
    "PutError",
    "RecordError",
    "S3RequestError",
    "StoredOtherBytesError",
    "UploadsUnlistableError",
]


# The contract: records and the streams that carry them.


class RecordError(ValueError):
    """A line that is not a valid record; the message says why."""


class InputError(Exception):
    """A record file could not be read to its end (EIO, EACCES...): the run cannot go on."""


class OutputError(Exception):
    """The output cannot take more (a full disk, an I/O error): the run cannot go on.

    A reader that went away is not this: that stays BrokenPipeError, a quiet end.
    ``target`` names the output: standard output unless a command wrote to a
    file it was given (``s3pput --output FILE``).
    """

    def __init__(self, message: str, target: str = "standard output") -> None:
        super().__init__(message)
        self.target = target


# Requests: what the transport says of a request it sent, or could not send.


class S3RequestError(Exception):
    """S3 refused a request or it could not be sent; the message is one line for the record."""

    def __init__(
        self, message: str, code: str | None = None, *, transport: str | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        """S3's error code or the HTTP status (AccessDenied, 503...); None if no answer came."""
        self.transport = transport
        """The native error's name when the network failed (AWS_IO_SOCKET_...)."""
        self.attempts = 1
        """Attempts made before giving up (set by the Dispatcher)."""


class ListingUnreadableError(S3RequestError):
    """A listing answer that cannot be read as one, or claims keys it does not show."""


class ListingUnavailableError(Exception):
    """The store will not list this prefix (no s3:ListBucket, say): use HEAD instead."""


# Put: why one record, or the run, cannot be uploaded.


class PutError(Exception):
    """A record that cannot be uploaded, for a reason the message gives."""


class NotRegularFileError(OSError):
    """A path that is a directory, fifo, socket or device: nothing to upload."""


class ChangedWhileUploadingError(OSError):
    """The file is not the version that was stat'ed, or changed while it was read or sent."""


class StoredOtherBytesError(Exception):
    """The store's answer proves it holds other bytes than the ones sent."""


class MemberError(OSError):
    """A tar member that cannot be read as its record says."""


class HeaderError(ValueError):
    """A header or metadata item that must not be sent; the message says why."""


class BucketError(Exception):
    """The bucket cannot be written as asked; the message is the one line to show."""


class UploadsUnlistableError(Exception):
    """The store cannot list unfinished multipart uploads (it has no ListMultipartUploads)."""
