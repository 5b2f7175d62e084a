"""botocore's errors as the stages need them: one line to put in a record, a code to test.

The stages catch ``REQUEST_ERRORS`` and read ``error_code`` instead of
importing botocore, so that only this package knows which library sent the
request. The native client's own error, S3RequestError, lives in s3pput/errors.py
with the rest of s3pput's exceptions.
"""

from __future__ import annotations

from typing import Final

import botocore.exceptions

__all__ = ["REQUEST_ERRORS", "code_and_message", "describe_error", "error_code", "is_missing_key"]

REQUEST_ERRORS: Final[tuple[type[Exception], ...]] = (
    botocore.exceptions.ClientError,
    botocore.exceptions.BotoCoreError,
)
"""What a boto3 call raises: the store answered with an error, or no answer came."""

_MISSING_KEY: Final = frozenset({"404", "NoSuchKey", "NotFound"})
_HTTP_REASONS: Final = {"403": "Forbidden", "404": "Not Found", "400": "Bad Request"}


def error_code(exc: BaseException) -> str | None:
    """The store's error code (``NoSuchBucket``, ``404``), or None when it did not answer."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", "?"))
    return None


def is_missing_key(exc: BaseException) -> bool:
    """Whether a HEAD or GET failed because the key does not exist."""
    return error_code(exc) in _MISSING_KEY


def describe_error(exc: BaseException) -> str:
    """A one-line error that says what S3 or the OS said, without secrets."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "?")
        message = error.get("Message") or _HTTP_REASONS.get(code, "")
        return f"{exc.operation_name}: {code} {message}".strip()
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if isinstance(exc.filename, str) else ""
        return f"{exc.strerror}: {name}" if name else exc.strerror
    return str(exc) or type(exc).__name__


def code_and_message(exc: BaseException) -> str:
    """``Code Message`` of a store's error, as a listing failure names it; else the error."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '?')} {error.get('Message', '')}".strip()
    return str(exc) or type(exc).__name__
