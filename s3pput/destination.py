"""The bucket as put sees it: what is there (listings, HEAD) and how a file gets there.

Kept apart from the per-record decisions in put.py: these are the requests,
their headers, and how their errors read in a record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final

import botocore.exceptions

from s3pput import log
from s3pput.crt import CrtPutter, PutResponse, S3RequestError
from s3pput.headers import request_headers
from s3pput.listing import (
    DirectoryIndex,
    Listed,
    ListingUnavailableError,
    PageEnd,
    Subdirectory,
)
from s3pput.multipart import MultipartSender, PartSource
from s3pput.unchanged import open_regular

if TYPE_CHECKING:
    from s3pput.put import PutOptions
    from s3pput.s3 import S3Client

__all__ = ["Destination", "describe_error", "is_utf8"]

_log = log.get_logger("put")


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


_HTTP_REASONS: Final = {"403": "Forbidden", "404": "Not Found", "400": "Bad Request"}


def is_utf8(path: str) -> bool:
    """Whether the native client can open this path by name (it takes UTF-8 only)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Destination:
    """One bucket: the boto3 client for HEAD, the native client for LIST and PUT."""

    def __init__(self, client: S3Client, putter: CrtPutter, options: PutOptions) -> None:
        self.client = client
        self.putter = putter
        self.options = options
        self.index = DirectoryIndex(
            self.list_directory,
            self.head,
            list_tree=self.list_tree,
            list_after=self.list_directory,
        )
        self.parts = MultipartSender(putter, options.bucket)

    def head(self, key: str) -> dict[str, Any] | None:
        """HEAD the key; None when it does not exist."""
        try:
            head: dict[str, Any] = dict(
                self.client.head_object(Bucket=self.options.bucket, Key=key)
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
        return head

    def list_directory(
        self, prefix: str, start_after: str = ""
    ) -> Iterator[Listed | Subdirectory | PageEnd]:
        """The objects and subdirectories directly under ``prefix`` (past ``start_after``).

        A LIST per 1,000, each page followed by where the next resumes.
        """
        try:
            yield from self.putter.list_directory(self.options.bucket, prefix, start_after)
        except S3RequestError as exc:
            if exc.code not in {"AccessDenied", "403"}:
                raise
            _log.info("listing denied, asking per key instead", prefix=prefix)
            raise ListingUnavailableError from None

    def list_tree(self, prefix: str) -> Iterator[Listed | PageEnd]:
        """Every object under ``prefix``, at any depth: a LIST per 1,000 keys."""
        try:
            yield from self.putter.list_tree(self.options.bucket, prefix)
        except S3RequestError as exc:
            if exc.code not in {"AccessDenied", "403"}:
                raise
            raise ListingUnavailableError from None

    def headers(
        self,
        content_type: str | None,
        encoding: str | None,
        metadata: Mapping[str, str],
        extra: Mapping[str, str] | None = None,
    ) -> list[tuple[str, str]]:
        """The HTTP headers of one PutObject: options, type, encoding, metadata."""
        parameters: dict[str, Any] = dict(self.options.parameters)
        if content_type is not None:
            parameters.setdefault("ContentType", content_type)
        if encoding is not None:
            parameters["ContentEncoding"] = encoding
        return [
            *request_headers(parameters, {**self.options.metadata, **metadata}),
            *self.options.raw_headers,
            *(extra or {}).items(),
        ]

    def send_file(  # noqa: PLR0913  # one upload's facts
        self,
        key: str,
        path: str,
        headers: list[tuple[str, str]],
        size: int,
        *,
        part_size: int,
        resume: tuple[str | None, int | None] = (None, None),
    ) -> tuple[PutResponse, int]:
        """Send a file; return S3's answer and the bytes sent.

        Above the multipart threshold, in parts of ``part_size`` that
        ``resume`` (an upload id and its part size, from the record) may
        already hold. Below it, the native client reads the file itself
        (by stream if its name is not UTF-8).
        """
        if size > self.options.multipart_threshold:
            with open_regular(path) as source:
                response, state = self.parts.upload(
                    key,
                    PartSource(source.fileno(), size),
                    headers,
                    part_size,
                    resume=resume,
                )
            return response, state.sent
        if not is_utf8(path):
            with open_regular(path) as source:
                response = self.putter.put(
                    self.options.bucket, key, headers, stream=source, size=size
                )
            return response, size
        response = self.putter.put(self.options.bucket, key, headers, filepath=path, size=size)
        return response, size
