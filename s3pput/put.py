"""The put stage's core: one record in, one result record out, never an exception.

``Uploader.process`` is the error boundary of a record: whatever goes wrong
(a vanished file, a denied request, an unreachable endpoint) becomes a failed
record with a one-line error, and the run goes on.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Final, Literal, TypeAlias

import botocore.exceptions

from s3pput import log
from s3pput.cache import ChecksumCache
from s3pput.checksums import ETagDigest, b64_md5, candidate_part_sizes, split_etag
from s3pput.content import DEFAULT_GZIP_TYPES, ContentTyper, gzip_bytes, should_gzip
from s3pput.crt import CrtPutter, PutFailedError, PutResponse, S3RequestError
from s3pput.headers import request_headers
from s3pput.keys import check_key, key_from_path
from s3pput.listing import DirectoryIndex, Listed, ListingUnavailableError
from s3pput.records import Record

if TYPE_CHECKING:
    from s3pput.s3 import S3Client

__all__ = ["MD5_METADATA", "PutMode", "PutOptions", "Uploader", "is_passthrough"]

PutMode: TypeAlias = Literal["add", "stupid", "update", "copy"]
MiB: Final = 1024 * 1024
MD5_METADATA: Final = "s3pput-md5"
"""User metadata holding the source file's MD5, so ``update`` works for any upload."""
PART_SIZE_METADATA: Final = "s3pput-part-size"
"""User metadata holding the part size of a multipart upload, to recompute its ETag."""
MAX_PARTS: Final = 10_000
GZIP_MD5: Final = "gzip-md5"
"""Cache kind: MD5 of a file's reproducible gzip body (what its ETag is with --gzip)."""
READ_CHUNK: Final = MiB
STAGE: Final = "put"

_log = log.get_logger(STAGE)


class PutError(Exception):
    """A record that cannot be uploaded, for a reason the message gives."""


@dataclass(frozen=True)
class PutOptions:
    """Everything that decides how records are uploaded; built once by the CLI."""

    bucket: str
    mode: PutMode = "update"
    content_type: str = "guess"
    gzip: bool = False
    gzip_types: frozenset[str] | None = DEFAULT_GZIP_TYPES
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """boto3 PutObject parameters: ACL, StorageClass, ServerSideEncryption, CacheControl..."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    raw_headers: tuple[tuple[str, str], ...] = ()
    """Headers S3 has no parameter for, sent as they are (checked by headers.py)."""
    dry_run: bool = False
    multipart_threshold: int = 8 * MiB
    part_size: int = 8 * MiB
    source_bucket: str | None = None


def is_passthrough(record: Record) -> bool:
    """Tell whether put must forward a record unchanged.

    Walk's failures (a fifo, a loop) and lines that were never records cannot
    be fixed by uploading, so put reports them as they are.
    """
    return record.status == "failed" and (record.stage == "walk" or record.path is None)


def _describe(exc: BaseException) -> str:
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


def _open_regular(path: str) -> IO[bytes]:
    """Open a regular file for reading; refuse fifos and devices without blocking on them."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except ValueError as exc:  # a NUL byte in a path made by hand
        raise PutError(f"cannot open path: {exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "directory" if stat.S_ISDIR(mode) else "special file"
            raise PutError(f"not a regular file ({kind}): {path}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class Uploader:
    """Upload one record at a time; share one instance across threads.

    The boto3 client (HEAD, COPY) and the native putter (PUT) are injected so
    tests and benchmarks can choose them; both are thread-safe.
    """

    def __init__(
        self,
        client: S3Client,
        putter: CrtPutter,
        options: PutOptions,
        clock: Callable[[], float] = time.monotonic,
        cache: ChecksumCache | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.putter = putter
        self.options = options
        self.clock = clock
        self.typer = ContentTyper(options.content_type)
        self.index = DirectoryIndex(self._list_directory, self._head)

    def process(self, record: Record) -> Record:
        """Return the result record for ``record``; never raises for a record's own failure."""
        if is_passthrough(record):
            return record
        record = record.cleared()
        started = self.clock()
        try:
            result = self._process(record)
        except (
            PutError,
            PutFailedError,
            OSError,
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
        ) as exc:
            result = record.failed(STAGE, _describe(exc))
        return self._finish(result, started)

    def quick(self, record: Record) -> Record | None:
        """The result, if a cached MD5 and a listing settle it without reading the file.

        Cheap enough to run on the thread that reads the input, which saves a
        hand-off per record on a second run. None means: use ``process``.
        """
        path = record.path
        if self.cache is None or self.options.mode != "update" or path is None:
            return None
        if is_passthrough(record):
            return None
        key = record.key if record.key is not None else key_from_path(path)
        if check_key(key) is not None:
            return None
        started = self.clock()
        try:
            result = self._unchanged_by_cache(record.cleared().evolve(key=key), key, path)
        except (PutFailedError, OSError):
            return None  # process() will meet the same problem and report it
        return None if result is None else self._finish(result, started)

    def _finish(self, result: Record, started: float) -> Record:
        """Stamp a result with bucket and timing, and log it."""
        result = result.evolve(
            bucket=self.options.bucket,
            seconds=round(self.clock() - started, 6),
            ts=round(time.time(), 6),
        )
        if result.status == "failed":
            _log.warning("failed", key=result.key, path=result.path, error=result.error)
        else:
            _log.info(result.status or "", key=result.key, bytes=result.bytes)
        return result

    def close(self) -> None:
        """Release what the uploader holds (the checksum cache's database)."""
        if self.cache is not None:
            self.cache.close()

    def interrupted(self, record: Record) -> Record:
        """The result of a record that was in flight when the run was stopped."""
        if is_passthrough(record):
            return record
        failed = record.cleared().failed(STAGE, "interrupted")
        return failed.evolve(bucket=self.options.bucket, ts=round(time.time(), 6))

    def crashed(self, record: Record, exc: Exception) -> Record:
        """The result of a record whose processing hit a bug: still one output record."""
        _log.error("internal error", key=record.key, exc_info=exc)
        failed = record.cleared().failed(STAGE, f"internal error: {type(exc).__name__}: {exc}")
        return failed.evolve(bucket=self.options.bucket, ts=round(time.time(), 6))

    def _process(self, record: Record) -> Record:
        if self.options.mode == "copy":
            return self._copy(record)
        path = record.path
        if path is None:
            raise PutError("record has no path (nor path_b64)")
        key = record.key if record.key is not None else key_from_path(path)
        problem = check_key(key)
        if problem is not None:
            raise PutError(problem)
        record = record.evolve(key=key)
        if self.cache is not None and self.options.mode == "update":
            known = self._unchanged_by_cache(record, key, path)
            if known is not None:
                return known
        with _open_regular(path) as source:
            identity = os.fstat(source.fileno())
            size = identity.st_size
            if record.size is None:
                record = record.evolve(size=size)
            if size <= self.options.multipart_threshold:
                return self._put_small(record, key, source.read(), identity)
            return self._put_large(record, key, source)

    def _unchanged_by_cache(self, record: Record, key: str, path: str) -> Record | None:
        """Skip a small file without reading it, when its cached MD5 is the object's ETag.

        Returns None whenever that cannot be decided this cheaply; the normal
        path then reads the file.
        """
        identity = os.stat(path)  # noqa: PTH116  # paths are surrogate-escaped str, as os.fsdecode gives
        cached = self._cached_body_md5(path, identity)
        if cached is None:
            return None
        sent_md5, content_type, compress = cached
        head = self.index.lookup(key)
        etag, parts = split_etag(str(head.get("ETag", ""))) if head is not None else ("", 0)
        if head is None or parts or etag != sent_md5:
            return None
        if not compress and head.get("ContentLength") != identity.st_size:
            return None
        return record.evolve(
            size=record.size if record.size is not None else identity.st_size,
            status="skipped",
            reason="unchanged",
            bytes=0,
            md5=None if compress else sent_md5,
            content_type=content_type,
            content_encoding="gzip" if compress else self.options.parameters.get("ContentEncoding"),
        )

    def _cached_body_md5(
        self, path: str, identity: os.stat_result
    ) -> tuple[str, str | None, bool] | None:
        """(MD5 of the body we would send, its type, gzipped?) from the cache, if known there."""
        if self.cache is None or not stat.S_ISREG(identity.st_mode):
            return None
        if identity.st_size > self.options.multipart_threshold:
            return None
        content_type = self.options.parameters.get("ContentType") or self.typer.content_type(path)
        if content_type is None and self.typer.needs_head:
            return None
        compress = self.options.gzip and should_gzip(content_type, self.options.gzip_types)
        sent_md5 = self.cache.get(identity, GZIP_MD5 if compress else "md5")
        return None if sent_md5 is None else (sent_md5, content_type, compress)

    def _head(self, key: str) -> dict[str, Any] | None:
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

    def _skip_reason(self, key: str, unchanged: Callable[[dict[str, Any]], bool]) -> str | None:
        """Apply --put add/update: why to skip this key, or None to upload it."""
        if self.options.mode not in {"add", "update"}:
            return None
        head = self.index.lookup(key)
        if head is None:
            return None
        if self.options.mode == "add":
            return "exists"
        if "Metadata" not in head and split_etag(str(head.get("ETag", "")))[1]:
            head = self._head(key)  # a multipart ETag: our metadata says how to check it
            if head is None:
                return None
        return "unchanged" if unchanged(head) else None

    def _list_directory(self, prefix: str) -> Iterator[Listed]:
        """The objects directly under ``prefix``: one LIST request per 1,000 keys."""
        try:
            yield from self.putter.list_directory(self.options.bucket, prefix)
        except S3RequestError as exc:
            if exc.code not in {"AccessDenied", "403"}:
                raise
            _log.info("listing denied, asking per key instead", prefix=prefix)
            raise ListingUnavailableError from None

    def _headers(
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

    def _put_small(self, record: Record, key: str, data: bytes, identity: os.stat_result) -> Record:
        """Upload a body that fits one PUT: read once, checked with Content-MD5."""
        path = record.path or key
        content_type = self.options.parameters.get("ContentType") or self.typer.content_type(
            path, data
        )
        body, encoding = data, self.options.parameters.get("ContentEncoding")
        if self.options.gzip and should_gzip(content_type, self.options.gzip_types):
            body, encoding = gzip_bytes(data), "gzip"
        source = ETagDigest()
        source.update(data)
        sent = source
        if body is not data:
            sent = ETagDigest()
            sent.update(body)
        if self.cache is not None:
            self.cache.put(identity, "md5", source.md5())
            if body is not data:
                self.cache.put(identity, GZIP_MD5, sent.md5())

        def unchanged(head: dict[str, Any]) -> bool:
            def etag_of(part_size: int) -> str:
                parts = ETagDigest([part_size])
                parts.update(body)
                return parts.multipart_etag(part_size)

            return _same_content(
                head=head,
                source_md5=source.md5(),
                body_size=len(body),
                body_md5=sent.md5(),
                multipart_etag=etag_of,
                preferred_part_sizes=self._sizes(head),
            )

        reason = self._skip_reason(key, unchanged)
        result = record.evolve(
            md5=source.md5(),
            bytes=len(body),
            content_type=content_type,
            content_encoding=encoding,
        )
        if reason is not None:
            return result.evolve(status="skipped", reason=reason, bytes=0)
        if self.options.dry_run:
            return result.evolve(status="planned")
        headers = self._headers(
            content_type,
            encoding,
            {MD5_METADATA: source.md5()},
            {"Content-MD5": b64_md5(sent.md5())},
        )
        response = self.putter.put(self.options.bucket, key, headers, body=body, size=len(body))
        self.index.remember(key, response.etag, len(body))
        return result.evolve(status="uploaded", etag=response.etag or None)

    def _sizes(self, head: Mapping[str, Any]) -> tuple[int, ...]:
        """Part sizes to try first when recomputing a multipart ETag: recorded, then ours."""
        recorded = str(head.get("Metadata", {}).get(PART_SIZE_METADATA, ""))
        ours = (self.options.part_size,)
        return (int(recorded), *ours) if recorded.isdigit() and int(recorded) > 0 else ours

    def _put_large(self, record: Record, key: str, source: IO[bytes]) -> Record:
        """Upload a file in parallel parts with bounded memory, read by the native client."""
        path = record.path or key
        head_bytes = source.read(4096) if self.typer.needs_head else None
        content_type = self.options.parameters.get("ContentType") or self.typer.content_type(
            path, head_bytes
        )
        compress = self.options.gzip and should_gzip(content_type, self.options.gzip_types)
        encoding = "gzip" if compress else self.options.parameters.get("ContentEncoding")
        size = os.fstat(source.fileno()).st_size
        digest: ETagDigest | None = None

        def unchanged(head: dict[str, Any]) -> bool:
            nonlocal digest
            _, parts = split_etag(str(head.get("ETag", "")))
            sizes = candidate_part_sizes(size, parts, self._sizes(head)) if parts else []
            digest = _digest_file(source, sizes)
            if compress and MD5_METADATA not in head.get("Metadata", {}):
                return False  # the gzip body differs from the file; only our metadata can tell
            body_size = None if compress else size
            return _same_content(
                head=head,
                source_md5=digest.md5(),
                body_size=body_size,
                body_md5=digest.md5(),
                multipart_etag=digest.multipart_etag,
                preferred_part_sizes=self._sizes(head),
            )

        reason = self._skip_reason(key, unchanged)
        result = record.evolve(content_type=content_type, content_encoding=encoding)
        if reason is not None:
            md5 = digest.md5() if digest is not None else None
            return result.evolve(status="skipped", reason=reason, bytes=0, md5=md5)
        if self.options.dry_run:
            return result.evolve(status="planned", bytes=size)
        metadata = {} if digest is None else {MD5_METADATA: digest.md5()}
        if size <= self.options.part_size * MAX_PARTS:
            metadata[PART_SIZE_METADATA] = str(self.options.part_size)
        if not compress:
            response = self._put_file(
                key=key,
                path=path,
                source=source,
                size=size,
                content_type=content_type,
                encoding=encoding,
                metadata=metadata,
            )
            sent = size
        else:
            source.seek(0)
            with tempfile.NamedTemporaryFile(prefix="s3pput-gzip-") as spool:
                digest = _gzip_stream(source, spool)
                metadata[MD5_METADATA] = digest.md5()
                spool.flush()
                sent = spool.tell()
                headers = self._headers(content_type, encoding, metadata)
                response = self.putter.put(
                    self.options.bucket, key, headers, filepath=spool.name, size=sent
                )
        self.index.remember(key, response.etag, sent)
        return result.evolve(
            status="uploaded",
            bytes=sent,
            md5=digest.md5() if digest is not None else None,
            etag=response.etag or None,
        )

    def _put_file(  # noqa: PLR0913  # one upload's facts, passed along
        self,
        *,
        key: str,
        path: str,
        source: IO[bytes],
        size: int,
        content_type: str | None,
        encoding: str | None,
        metadata: Mapping[str, str],
    ) -> PutResponse:
        """Let the native client read the file in parallel parts (a stream if not UTF-8)."""
        headers = self._headers(content_type, encoding, metadata)
        try:
            path.encode("utf-8")
        except UnicodeEncodeError:
            source.seek(0)
            return self.putter.put(self.options.bucket, key, headers, stream=source, size=size)
        return self.putter.put(self.options.bucket, key, headers, filepath=path, size=size)

    def _copy(self, record: Record) -> Record:
        """Server-side copy (``--put copy``) from the record's or the option's source bucket."""
        source_bucket = record.extra.get("source_bucket") or self.options.source_bucket
        source_key = record.extra.get("source_key") or record.key
        if not isinstance(source_bucket, str) or not source_bucket:
            raise PutError("--put copy needs source_bucket in the record or --source-bucket")
        if not isinstance(source_key, str):
            raise PutError("--put copy needs key or source_key in the record")
        key = record.key or source_key
        problem = check_key(key)
        if problem is not None:
            raise PutError(problem)
        record = record.evolve(key=key)
        if self.options.dry_run:
            return record.evolve(status="planned", bytes=0)
        response = self.client.copy_object(
            Bucket=self.options.bucket,
            Key=key,
            CopySource={"Bucket": source_bucket, "Key": source_key},
            **dict(self.options.parameters),
        )
        etag = response.get("CopyObjectResult", {}).get("ETag", "")
        return record.evolve(status="uploaded", bytes=0, etag=etag.strip('"'))


def _same_content(  # noqa: PLR0913  # each argument is one fact about the two sides
    *,
    head: Mapping[str, Any],
    source_md5: str,
    body_size: int | None,
    body_md5: str,
    multipart_etag: Callable[[int], str],
    preferred_part_sizes: tuple[int, ...],
) -> bool:
    """Tell whether the object already holds these bytes.

    Our own metadata MD5 is trusted first (it survives multipart and gzip);
    otherwise a single-part ETag is an MD5, and a multipart one is recomputed
    for each part size that gives its part count.
    """
    if body_size is not None and head.get("ContentLength") not in {None, body_size}:
        return False
    metadata = head.get("Metadata", {})
    stored = metadata.get(MD5_METADATA)
    if stored:
        return bool(stored == source_md5)

    etag, parts = split_etag(str(head.get("ETag", "")))
    if not parts:
        return etag == body_md5
    size = head.get("ContentLength")
    if not isinstance(size, int):
        return False
    wanted = f"{etag}-{parts}"
    return any(
        multipart_etag(candidate) == wanted
        for candidate in candidate_part_sizes(size, parts, preferred_part_sizes)
    )


def _digest_file(source: IO[bytes], part_sizes: list[int]) -> ETagDigest:
    """Read a file once from the start, hashing it whole and per candidate part size."""
    digest = ETagDigest(part_sizes)
    source.seek(0)
    while chunk := source.read(READ_CHUNK):
        digest.update(chunk)
    return digest


def _gzip_stream(source: IO[bytes], target: IO[bytes]) -> ETagDigest:
    """Compress a file into ``target`` chunk by chunk, never whole in memory; hash it on the way."""
    import gzip  # noqa: PLC0415  # only --gzip of a large file needs the streaming API

    digest = ETagDigest()
    with gzip.GzipFile(fileobj=target, mode="wb", compresslevel=6, mtime=0) as zipped:
        while chunk := source.read(READ_CHUNK):
            digest.update(chunk)
            zipped.write(chunk)
    return digest
