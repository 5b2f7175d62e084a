"""botocore's errors as the stages need them: one line to put in a record, a code to test.

The stages catch ``request_errors()`` and read ``error_code`` instead of
importing botocore, so that only this package knows which library sent the
request. The native client's own error, S3RequestError, lives in s3pput/errors.py
with the rest of s3pput's exceptions.

botocore is never imported here: a run that sends everything through the
native client never loads it (a tenth of a second), and an error of botocore's
cannot exist before something else imported botocore to make the request.
So the classes are looked up among the modules already loaded, at the moment
an exception is being matched.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import botocore.exceptions

__all__ = [
    "client_error",
    "code_and_message",
    "describe_error",
    "error_code",
    "is_missing_key",
    "request_errors",
]

_MISSING_KEY: Final = frozenset({"404", "NoSuchKey", "NotFound"})
_HTTP_REASONS: Final = {"403": "Forbidden", "404": "Not Found", "400": "Bad Request"}
_NONE: Final[tuple[type[Exception], ...]] = ()


def request_errors() -> tuple[type[Exception], ...]:
    """What a boto3 call raises: the store answered with an error, or no answer came.

    For ``except request_errors() as exc:``, evaluated only when an exception
    is being matched. Empty while botocore is not loaded: no boto3 call was
    made, so none of its errors can be in flight.
    """
    exceptions = sys.modules.get("botocore.exceptions")
    client = getattr(exceptions, "ClientError", None)
    core = getattr(exceptions, "BotoCoreError", None)
    if client is None or core is None:  # not imported, or still being imported
        return _NONE
    return (client, core)


def client_error(exc: BaseException) -> botocore.exceptions.ClientError | None:
    """The exception as botocore's ClientError (the store answered with an error), or None."""
    exceptions = sys.modules.get("botocore.exceptions")
    client = getattr(exceptions, "ClientError", None)
    return exc if client is not None and isinstance(exc, client) else None


def error_code(exc: BaseException) -> str | None:
    """The store's error code (``NoSuchBucket``, ``404``), or None when it did not answer."""
    error = client_error(exc)
    if error is not None:
        return str(error.response.get("Error", {}).get("Code", "?"))
    return None


def is_missing_key(exc: BaseException) -> bool:
    """Whether a HEAD or GET failed because the key does not exist."""
    return error_code(exc) in _MISSING_KEY


def describe_error(exc: BaseException) -> str:
    """A one-line error that says what S3 or the OS said, without secrets."""
    error = client_error(exc)
    if error is not None:
        details = error.response.get("Error", {})
        code = details.get("Code", "?")
        message = details.get("Message") or _HTTP_REASONS.get(code, "")
        return f"{error.operation_name}: {code} {message}".strip()
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if isinstance(exc.filename, str) else ""
        return f"{exc.strerror}: {name}" if name else exc.strerror
    return str(exc) or type(exc).__name__


def code_and_message(exc: BaseException) -> str:
    """``Code Message`` of a store's error, as a listing failure names it; else the error."""
    error = client_error(exc)
    if error is not None:
        details = error.response.get("Error", {})
        return f"{details.get('Code', '?')} {details.get('Message', '')}".strip()
    return str(exc) or type(exc).__name__


def __getattr__(name: str) -> tuple[type[Exception], ...]:
    """``REQUEST_ERRORS``, the old name: a tuple fixed at import, so it imports botocore.

    Kept so that a module still importing it works; ``request_errors()`` costs nothing.
    """
    if name == "REQUEST_ERRORS":
        import botocore.exceptions  # noqa: PLC0415  # only for the old name, see the docstring

        return (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
    message = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(message)
