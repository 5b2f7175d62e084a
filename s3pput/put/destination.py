"""The bucket as put sees it: what is there (listings, HEAD) and how a file gets there.

Kept apart from the per-record decisions of the uploader and its operations:
these are the requests, their headers and integrity checks. It must not know
records, ``--put`` modes or why a body is sent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, Final, NamedTuple, cast

from s3pput import log
from s3pput.errors import ChangedWhileUploadingError, ListingUnavailableError, S3RequestError
from s3pput.put.body import (
    CHANGED,
    IN_MEMORY_LIMIT,
    HashingReader,
    check_stored,
    etag_is_md5,
    integrity_headers,
    open_checked,
    read_snapshot,
    same_version,
)
from s3pput.put.bucket_index import DirectoryIndex
from s3pput.put.headers import request_headers
from s3pput.put.local_files import open_regular
from s3pput.put.part_source import PartSource
from s3pput.put.parts import MultipartSender
from s3pput.put.unchanged import MD5_METADATA, READ_CHUNK
from s3pput.transport.errors import is_missing_key, request_errors
from s3pput.transport.listed import Listed, PageEnd, Subdirectory
from s3pput.transport.put_response import PutResponse

if TYPE_CHECKING:
    from s3pput.put.options import PutOptions
    from s3pput.transport.clients import S3Client
    from s3pput.transport.native import NativePutter

__all__ = ["Destination", "Sent"]

_log = log.get_logger("put")


class Destination:
    """One bucket: the boto3 client for HEAD, the native client for LIST and PUT."""

    def __init__(self, client: S3Client, putter: NativePutter, options: PutOptions) -> None:
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
        except request_errors() as exc:
            if is_missing_key(exc):
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
        identity: os.stat_result | None = None,
    ) -> tuple[PutResponse, int]:
        """Send a file; return S3's answer and the bytes sent.

        Above the multipart threshold, in parts of ``part_size`` that
        ``resume`` (an upload id and its part size, from the record) may
        already hold; the file must stay the version ``identity`` (put's
        ``stat``, made before it read the MD5 it records) from before the
        first part to after the last, or the upload fails as changed.
        Below it, in one request (``send_path``).
        """
        if size > self.options.multipart_threshold:
            with open_regular(path) as source:
                response, state = self.parts.upload(
                    key,
                    PartSource(source.fileno(), size, expected=identity),
                    headers,
                    part_size,
                    resume=resume,
                )
            return response, state.sent
        sent = self.send_path(key, path, headers, size=size)
        return sent.response, sent.size

    def send_path(
        self,
        key: str,
        path: str,
        headers: list[tuple[str, str]],
        *,
        size: int,
        expected: os.stat_result | None = None,
    ) -> Sent:
        """Send a file of about ``size`` bytes in one request; the native client never opens it.

        ``expected`` is the ``stat`` the caller decided on; the file must
        still be that version (ChangedWhileUploadingError otherwise). Up to
        IN_MEMORY_LIMIT the bytes are read into memory; above, the client
        reads a stream of the checked descriptor, hashed as it goes.
        """
        if size > IN_MEMORY_LIMIT:
            return self._send_stream(key, path, headers, expected)
        snapshot = read_snapshot(path, expected)
        response = self.send_body(key, snapshot.data, snapshot.md5, headers)
        return Sent(response, len(snapshot.data), snapshot.md5)

    def send_body(
        self, key: str, body: bytes, md5: str, headers: list[tuple[str, str]]
    ) -> PutResponse:
        """Send bytes in one PutObject with their Content-MD5; check what the store says back."""
        response = self.putter.put(
            self.options.bucket, key, self.with_integrity(headers, md5), body=body, size=len(body)
        )
        self.check(response, md5, body)
        return response

    def with_integrity(self, headers: list[tuple[str, str]], md5: str) -> list[tuple[str, str]]:
        """The headers plus Content-MD5 and the checksum's name (and ``s3pput-md5``).

        The MD5 goes in metadata too when the ETag will not be an MD5
        (SSE-KMS, SSE-C), so ``update`` can still compare.
        """
        extra = integrity_headers(md5, self.putter.checksum)
        names = {name.lower() for name, _ in headers}
        if not etag_is_md5(self.options.parameters, NO_ANSWER) and _MD5_HEADER not in names:
            extra[_MD5_HEADER] = md5
        return [*headers, *extra.items()]

    def check(self, response: PutResponse, md5: str, body: bytes | None) -> None:
        """Raise StoredOtherBytesError when the answer shows the store holds other bytes."""
        check_stored(
            response,
            md5=md5,
            data=body,
            checksum_algorithm=self.putter.checksum,
            etag_md5=etag_is_md5(self.options.parameters, response),
        )

    def _send_stream(
        self,
        key: str,
        path: str,
        headers: list[tuple[str, str]],
        expected: os.stat_result | None,
    ) -> Sent:
        """A file too large to hold: hashed for Content-MD5, then hashed again as it is sent."""
        fd, before = open_checked(path)
        try:
            if expected is not None and not same_version(expected, before):
                raise ChangedWhileUploadingError(f"{CHANGED}: {path}")
            reader = HashingReader(fd)
            while reader.read(READ_CHUNK):
                pass
            md5, size = reader.md5(), reader.tell()
            response = self.putter.put(
                self.options.bucket,
                key,
                self.with_integrity(headers, md5),
                stream=cast("IO[bytes]", reader),
                size=size,
            )
            after = os.fstat(fd)
            if reader.md5() != md5 or size != before.st_size or not same_version(before, after):
                raise ChangedWhileUploadingError(f"{CHANGED}: {path}")
        finally:
            os.close(fd)
        self.check(response, md5, None)
        return Sent(response, size, md5)


class Sent(NamedTuple):
    """A body sent in one request: the store's answer, its size and its MD5 (hex)."""

    response: PutResponse
    size: int
    md5: str


NO_ANSWER: Final = PutResponse("")
_MD5_HEADER: Final = f"x-amz-meta-{MD5_METADATA}"
