"""One native request's answer as the CRT reports it, and the S3RequestError it means.

The CRT hands back an answer in callbacks (headers, body chunks, the end, an
error by its own name); an ``Exchange`` collects them, and ``answer_error``
reads an S3 error body (Code, Message), an HTTP status or a native error into
the one-line error a record carries; ``endpoint_answers`` asks whether any
answer comes at all. It retries nothing: native.py makes the requests and
dispatch.py decides what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from awscrt import http, s3
from awscrt.exceptions import AwsCrtError

from s3pput.errors import S3RequestError

__all__ = ["Exchange", "answer_error", "endpoint_answers"]

PROBE_TIMEOUT: Final = 10.0
HTTP_SERVER_ERROR: Final = 500

_XML_FIELD: Final = re.compile(r"<(Code|Message)>([^<]*)</\1>")
_CRT_CODES: Final = {
    "AWS_ERROR_S3_SLOW_DOWN": "SlowDown",
    "AWS_ERROR_S3_INTERNAL_ERROR": "InternalError",
    "AWS_ERROR_S3_REQUEST_TIME_TOO_SKEWED": "RequestTimeTooSkewed",
}
"""S3 answers the CRT reports by its own error name, without status or body."""
_LOCAL_ERRORS: Final = {
    "AWS_ERROR_NO_PERMISSION": "Permission denied",
    "AWS_ERROR_FILE_INVALID_PATH": "No such file or directory",
    "AWS_ERROR_FILE_OPEN_FAILURE": "Cannot open the file",
    "AWS_ERROR_FILE_READ_FAILURE": "Cannot read the file",
}
"""Errors of the CRT reading a file, which would otherwise read like S3's refusals."""


def answer_error(
    error: BaseException | None, body: bytes | None, status: int | None, operation: str
) -> S3RequestError:
    """Build the error from an S3 error body (Code and Message) or a transport error."""
    fields = dict(_XML_FIELD.findall(body.decode("utf-8", "replace"))) if body else {}
    if "Code" in fields:
        message = f"{operation}: {fields['Code']} {fields.get('Message', '')}".strip()
        return S3RequestError(message, fields["Code"])
    if status:
        return S3RequestError(f"{operation}: HTTP {status}", str(status))
    if isinstance(error, AwsCrtError):
        if error.name in _LOCAL_ERRORS:  # the CRT reads the file itself
            return S3RequestError(f"{_LOCAL_ERRORS[error.name]} (reading the local file)")
        if error.name in _CRT_CODES:  # a PUT's error answer, as the CRT names it
            code = _CRT_CODES[error.name]
            return S3RequestError(f"{operation}: {code}: {error.message}", code)
        message = f"{operation}: {error.name}: {error.message}"
        return S3RequestError(message, transport=error.name)
    return S3RequestError(f"{operation}: {error}")


@dataclass
class Exchange:
    """What came back for one request, filled in by the CRT's callbacks."""

    operation: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    failure: S3RequestError | None = None
    finished: Callable[[Exchange], None] | None = None
    """Called on the CRT's thread once the request is over."""
    errors_in_body: bool = False
    """S3 may answer 200 with an error in the body (CompleteMultipartUpload): look for it."""
    status: int | None = None

    def on_headers(self, status_code: int, headers: list[tuple[str, str]], **_: object) -> None:
        """The CRT's callback with the answer's status and headers."""
        self.status = status_code
        self.headers.update((name.lower(), value) for name, value in headers)

    def on_body(self, chunk: bytes, **_: object) -> None:
        """The CRT's callback with the next bytes of the answer's body."""
        self.body += chunk

    def on_done(
        self,
        error: BaseException | None = None,
        error_body: bytes | None = None,
        status_code: int | None = None,
        error_operation_name: str | None = None,
        **_: object,
    ) -> None:
        """The CRT's callback at the end: read the error, if any, then tell ``finished``."""
        if error is not None:
            operation = error_operation_name or self.operation
            self.failure = answer_error(error, error_body, status_code, operation)
            self.status = status_code or self.status
        elif self.errors_in_body:
            answer = bytes(self.body)
            if answer.lstrip().startswith(b"<?xml") and b"<Error>" in answer[:512]:
                self.failure = answer_error(None, answer, None, self.operation)
        if self.finished is not None:
            self.finished(self)


def endpoint_answers(client: s3.S3Client, host: str) -> bool:
    """Whether the endpoint answers at all: one HEAD of "/", no retries; any answer will do."""
    exchange = Exchange("Probe")
    meta = client.make_request(
        type=s3.S3RequestType.DEFAULT,
        request=http.HttpRequest("HEAD", "/", http.HttpHeaders([("Host", host)])),
        operation_name="Probe",
        on_headers=exchange.on_headers,
        on_done=exchange.on_done,
    )
    try:
        meta.finished_future.result(PROBE_TIMEOUT)
    except TimeoutError:
        meta.cancel()
        return False
    except Exception:  # noqa: BLE001, S110  # an error answer is still an answer
        pass
    return exchange.status is not None and exchange.status < HTTP_SERVER_ERROR
