"""The put stage's core: one record in, one result record out, never an exception.

``Uploader.process`` is the error boundary of a record: whatever goes wrong
(a vanished file, a denied request, an unreachable endpoint) becomes a failed
record with a one-line error, and the run goes on.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from s3pput import log
from s3pput.errors import PutError, S3RequestError, StoredOtherBytesError
from s3pput.keys import check_key, key_from_path
from s3pput.put import gzip_upload, server_copy, tar_member_upload
from s3pput.put.body import read_snapshot
from s3pput.put.checksum_cache import ChecksumCache
from s3pput.put.content_type import DEFAULT_GZIP_TYPES, ContentTyper, should_gzip
from s3pput.put.destination import Destination
from s3pput.put.duplicates import is_duplicate
from s3pput.put.etags import split_etag
from s3pput.put.gzip_upload import GZIP_MD5
from s3pput.put.lane import NativeDone, Started
from s3pput.put.parts import choose_part_size
from s3pput.put.unchanged import (
    MD5_METADATA,
    PART_SIZE_METADATA,
    LocalDigests,
    open_regular,
    same_by_metadata,
    stat_regular,
    unchanged_test,
)
from s3pput.records import Record, is_total
from s3pput.transport import retry
from s3pput.transport.errors import REQUEST_ERRORS, describe_error
from s3pput.transport.native import CrtPutter, PutResponse
from s3pput.units import COPY_LIMIT, MiB

if TYPE_CHECKING:
    from s3pput.transport.clients import S3Client

__all__ = [
    "MD5_METADATA",
    "PART_SIZE_METADATA",
    "PutMode",
    "PutOptions",
    "Uploader",
    "is_passthrough",
]

PutMode: TypeAlias = Literal["add", "stupid", "update", "copy"]
Compare: TypeAlias = Literal["checksum", "size", "size-mtime"]
SNIFF_BYTES: Final = 4096
INLINE_READ_LIMIT: Final = 256 * 1024
"""Files up to this are read on the engine's driver thread and started without a
thread waiting (an MD5 of 256 KiB takes about half a millisecond); larger ones
are read and sent by a worker thread."""
STAGE: Final = "put"

_log = log.get_logger(STAGE)


_RECORD_ERRORS: Final[tuple[type[Exception], ...]] = (
    PutError,
    OSError,
    StoredOtherBytesError,
    *REQUEST_ERRORS,
)
"""What fails one record and not the run: the file, the store, or our own checks said no."""


@dataclass(frozen=True)
class PutOptions:
    """Everything that decides how records are uploaded; built once by the CLI."""

    bucket: str
    mode: PutMode = "update"
    compare: Compare = "checksum"
    """How ``update`` tells a file unchanged: its MD5 (right after a git checkout,
    never misses a same-size edit), or only the listing's size (and date)."""
    content_type: str = "guess"
    gzip: bool = False
    gzip_types: frozenset[str] | None = DEFAULT_GZIP_TYPES
    parameters: Mapping[str, Any] = field(default_factory=dict)
    """boto3 PutObject parameters: ACL, StorageClass, ServerSideEncryption, CacheControl..."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    raw_headers: tuple[tuple[str, str], ...] = ()
    """Headers S3 has no parameter for, sent as they are (checked by headers.py)."""
    dry_run: bool = False
    allow_control_keys: bool = True
    """Send keys with control characters (line breaks, escapes); False fails them instead."""
    multipart_threshold: int = 8 * MiB
    part_size: int = 8 * MiB
    source_bucket: str | None = None
    copy_threshold: int = COPY_LIMIT
    """``--put copy`` copies objects above this in parts (S3 copies at most 5 GiB whole)."""


def is_passthrough(record: Record) -> bool:
    """Tell whether put must forward a record unchanged.

    Walk's failures (a fifo, a loop) and lines that were never records cannot
    be fixed by uploading, so put reports them as they are; a total record
    (how many files follow) is for stat.
    """
    return (
        is_total(record)
        or (record.status == "failed" and (record.stage == "walk" or record.path is None))
        or is_duplicate(record)
    )


def claimed_key(record: Record, options: PutOptions) -> tuple[str, str] | None:
    """The key a record will be sent to and where its bytes come from, for duplicate checks.

    None when put will not send it: a record passed on as it is, one with
    neither a path nor an S3 source. Walks the same rules as the upload
    itself, so a duplicate is found before either record starts.
    """
    if is_passthrough(record):
        return None
    source = _source_of(record, options)
    if isinstance(source, server_copy.Source):
        return record.key or source.key, str(source)
    path = record.path
    if path is None or source is not None:
        return None
    if record.member is not None:
        return record.key or key_from_path(record.member), f"{record.member} in {path}"
    return record.key or key_from_path(path), path


def _source_of(record: Record, options: PutOptions) -> server_copy.Source | str | None:
    """The record's S3 source (``--source-bucket`` counts only under ``--put copy``)."""
    default = options.source_bucket if options.mode == "copy" else None
    return server_copy.record_source(record, default)


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
        self.destination = Destination(client, putter, options)
        self.index = self.destination.index
        self.archives = tar_member_upload.Archives()

    def process(self, record: Record) -> Record:
        """Return the result record for ``record``; never raises for a record's own failure."""
        if is_passthrough(record):
            return record
        record = record.cleared()
        started = self.clock()
        sent: int | None = None
        with retry.counting() as retries:
            try:
                result = self._process(record)
            except S3RequestError as exc:
                result = record.failed(STAGE, describe_error(exc))
                sent = exc.attempts
            except _RECORD_ERRORS as exc:
                result = record.failed(STAGE, describe_error(exc))
        if sent == 0:  # the endpoint was down: nothing was sent
            result = result.evolve(attempts=0)
        elif sent is not None or retries[0] or result.status == "uploaded":
            result = result.evolve(attempts=1 + retries[0])
        return self._finish(result, started)

    def _key_of(self, record: Record, path: str) -> tuple[str, str | None]:
        """The record's key (from its path when it has none) and why it must not be sent, if so."""
        if record.key is not None:
            key = record.key
        else:
            key = key_from_path(record.member if record.member is not None else path)
        return key, check_key(key, control_ok=self.options.allow_control_keys)

    def prefetch(self, records: list[Record]) -> None:
        """Start listing what the coming records' keys hold (add and update only).

        The tree common to the batch, then each new directory, in the
        background, so the answers are in when the records' turn comes.
        """
        if self.options.mode not in {"add", "update"}:
            return
        keys = [
            key
            for record in records
            if record.path is not None and not is_passthrough(record)
            for key, problem in [self._key_of(record, record.path)]
            if problem is None  # a key that will not be sent must not cost a listing
        ]
        self.index.hint(keys)
        for key in keys:
            self.index.prefetch(key)

    def begin(self, record: Record, done: NativeDone) -> Started | Record | None:  # noqa: PLR0911  # each early return is a case process() takes instead
        """Settle a record without a thread waiting for it, when that is possible.

        Runs on the engine's driver thread for every record. It answers at
        once what needs no request (a record put only passes on, a dry run,
        an unchanged file whose cached MD5 matches the listing), and starts
        the common case, a new small plain file, on the native client, which
        calls ``done`` from its thread; ``Started.finish`` then builds the
        result. Everything else (existing keys to compare, gzip, large files,
        copies, records with problems) returns None, for ``process`` on a
        worker thread.
        """
        if is_passthrough(record):
            return record
        path = record.path
        if path is None or self.options.mode == "copy" or record.member is not None:
            return None
        if _source_of(record, self.options) is not None:
            return None  # a copy: process() does those
        key, problem = self._key_of(record, path)
        if problem is not None:
            return None
        started = self.clock()
        record = record.cleared().evolve(key=key)
        try:
            identity = stat_regular(path)
            typed = self._named_type(path)
            head = self.index.lookup(key) if self.options.mode in {"add", "update"} else None
        except OSError:
            return None  # process() meets the same problem and reports it
        except S3RequestError as exc:
            # The listing failed after its retries: asking again in process()
            # would only double the wait (an endpoint down).
            failed = record.failed(STAGE, str(exc)).evolve(attempts=exc.attempts)
            return self._finish(failed, started)
        if head is not None and not self._compares_metadata(typed):
            known = self._unchanged_by_cache(record, identity, typed, head)
            return None if known is None else self._finish(known, started)
        if head is not None and same_by_metadata(head, identity, self.options.compare):
            skipped = record.evolve(
                status="skipped",
                reason="unchanged",
                bytes=0,
                size=record.size if record.size is not None else identity.st_size,
            )
            return self._finish(skipped, started)
        if typed is None or typed[1] or identity.st_size > INLINE_READ_LIMIT:
            return None  # sniffing, gzip, larger files, parts: process() does those
        return self._start_plain(record, path, identity, typed[0], done=done, started=started)

    def _start_plain(  # noqa: PLR0913  # what begin() found out about the record
        self,
        record: Record,
        path: str,
        identity: os.stat_result,
        content_type: str | None,
        *,
        done: NativeDone,
        started: float,
    ) -> Started | Record:
        """Start a new small file on the native client (or plan it, in a dry run).

        The file is read here, between two fstats that must agree with
        ``identity``; the native client gets those bytes, never the path.
        """
        key = str(record.key)
        size = identity.st_size
        record = record.evolve(
            size=record.size if record.size is not None else size,
            content_type=content_type,
            content_encoding=self.options.parameters.get("ContentEncoding"),
        )
        if self.options.dry_run:
            return self._finish(record.evolve(status="planned", bytes=size), started)
        try:
            snapshot = read_snapshot(path, identity)
        except OSError as exc:
            return self._finish(record.failed(STAGE, describe_error(exc)), started)
        local = LocalDigests(path, identity, self.cache)

        def finish(response: object, error: BaseException | None) -> Record:
            if isinstance(response, PutResponse) and error is None:
                try:
                    self.destination.check(response, snapshot.md5, snapshot.data)
                except StoredOtherBytesError as exc:
                    error = exc
            if not isinstance(response, PutResponse) or error is not None:
                result = record.failed(STAGE, describe_error(error or PutError("no response")))
                if isinstance(error, S3RequestError):
                    result = result.evolve(attempts=error.attempts)
                elif isinstance(response, PutResponse):
                    result = result.evolve(attempts=response.attempts)
            else:
                result = self._uploaded(record, key, local, response, size, md5=snapshot.md5)
                result = result.evolve(attempts=response.attempts)
            return self._finish(result, started)

        headers = self.destination.headers(content_type, record.content_encoding, {})
        pending = self.putter.put_async(
            self.options.bucket,
            key,
            self.destination.with_integrity(headers, snapshot.md5),
            body=snapshot.data,
            size=size,
            on_finished=done,
        )
        return Started(finish, pending.cancel, pending.deadline, size)

    def _compares_metadata(self, typed: tuple[str | None, bool] | None) -> bool:
        """Whether ``update`` decides from size (and date) alone.

        That is --compare size or size-mtime, for a body sent as it is: a
        gzipped object's size is not the file's, so gzip compares checksums.
        """
        return (
            self.options.mode == "update"
            and self.options.compare != "checksum"
            and typed is not None
            and not typed[1]
        )

    def _named_type(self, path: str) -> tuple[str | None, bool] | None:
        """(Content-Type, gzip it?) from the options or the name; None if libmagic must look."""
        content_type = self.options.parameters.get("ContentType") or self.typer.content_type(path)
        if content_type is None and self.typer.needs_head:
            return None
        return content_type, self.options.gzip and should_gzip(
            content_type, self.options.gzip_types
        )

    def _uploaded(  # noqa: PLR0913  # one upload's facts
        self,
        record: Record,
        key: str,
        local: LocalDigests,
        response: PutResponse,
        size: int,
        *,
        md5: str | None = None,
    ) -> Record:
        """The result of a plain upload; ``md5`` is of the bytes sent, read as ``local``'s version.

        Never the ETag: a store that checks nothing answers with the ETag of
        whatever it stored.
        """
        if md5 is not None:
            local.remember("md5", md5)
        self.index.remember(key, response.etag, size)
        return record.evolve(
            status="uploaded",
            bytes=size,
            md5=local.known_md5(),
            etag=response.etag or None,
            **self.checksum_fields(response),
        )

    def checksum_fields(self, response: PutResponse) -> dict[str, str | None]:
        """The record's checksum fields: S3's own value of the checksum it checked, if it says."""
        if response.checksum is None:
            return {}
        return {"checksum_algorithm": self.putter.checksum, "checksum": response.checksum}

    def _finish(self, result: Record, started: float) -> Record:
        """Stamp a result with bucket and timing, and log it.

        An upload id the record came with is done with once the file is
        uploaded (completed) or skipped (aborted, so its parts do not linger).
        """
        if result.upload_id is not None and not self.options.dry_run:
            if result.status == "skipped" and result.key is not None:
                self.destination.parts.abort(result.key, result.upload_id)
            if result.status in {"uploaded", "skipped"}:
                result = result.evolve(upload_id=None, part_size=None)
        result = result.evolve(
            bucket=self.options.bucket,
            seconds=round(self.clock() - started, 6),
            ts=round(time.time(), 6),
        )
        if result.status == "failed":
            _log.warning("failed", key=result.key, path=result.path, error=result.error)
        elif log.enabled(logging.INFO):
            _log.info(result.status or "", key=result.key, bytes=result.bytes)
        return result

    def stop(self) -> None:
        """The run is being stopped: requests waiting to be retried fail as interrupted now.

        Without this a record waiting on a dead endpoint would hold the stop
        up for as long as its retries may last.
        """
        self.putter.dispatcher.stop()

    def close(self) -> None:
        """Release what the uploader holds (the checksum cache's database); log the listings."""
        _log.info("listings", trees=self.index.tree_lists, directories=self.index.lists)
        if self.putter.dispatcher.retried:
            _log.info("retries", attempts=self.putter.dispatcher.retried)
        self.archives.close()
        if self.cache is not None:
            self.cache.close()

    def interrupted(self, record: Record) -> Record:
        """The result of a record that was in flight when the run was stopped."""
        if is_passthrough(record):
            return record
        failed = record.cleared().failed(STAGE, "interrupted")
        path = record.path
        upload = (
            None
            if path is None
            else self.destination.parts.hand_over(self._key_of(record, path)[0])
        )
        if upload is not None:  # replaying the record sends only the parts still missing
            failed = failed.evolve(upload_id=upload[0], part_size=upload[1])
        return failed.evolve(bucket=self.options.bucket, ts=round(time.time(), 6))

    def crashed(self, record: Record, exc: Exception) -> Record:
        """The result of a record whose processing hit a bug: still one output record."""
        _log.error("internal error", key=record.key, exc_info=exc)
        failed = record.cleared().failed(STAGE, f"internal error: {type(exc).__name__}: {exc}")
        return failed.evolve(bucket=self.options.bucket, ts=round(time.time(), 6))

    def _process(self, record: Record) -> Record:
        source = _source_of(record, self.options)
        if isinstance(source, str):
            raise PutError(source)
        if source is not None:
            return self._copy(record, source)
        if self.options.mode == "copy":
            raise PutError("--put copy needs source_bucket in the record or --source-bucket")
        path = record.path
        if path is None:
            raise PutError("record has no path (nor path_b64)")
        key, problem = self._key_of(record, path)
        if problem is not None:
            raise PutError(problem)
        record = record.evolve(key=key)
        if record.member is not None:
            return tar_member_upload.put_member(self, record, key)
        return self._process_file(record, key, path)

    def _process_file(self, record: Record, key: str, path: str) -> Record:
        identity = stat_regular(path)
        if self.cache is not None and self.options.mode == "update":
            head = self.index.lookup(key)
            if head is not None:
                known = self._unchanged_by_cache(record, identity, self._named_type(path), head)
                if known is not None:
                    return known
        if record.size is None:
            record = record.evolve(size=identity.st_size)
        content_type = self._content_type(path)
        if self.options.gzip and should_gzip(content_type, self.options.gzip_types):
            if identity.st_size <= self.options.multipart_threshold:
                return gzip_upload.put_small(
                    self, record, key, path, content_type, identity=identity
                )
            return gzip_upload.put_large(
                self,
                record=record,
                key=key,
                path=path,
                identity=identity,
                content_type=content_type,
            )
        return self._put_plain(record, key, path, identity, content_type)

    def _content_type(self, path: str) -> str | None:
        """The Content-Type to send; libmagic sees the first bytes only if the name says nothing."""
        typed = self._named_type(path)
        if typed is not None:
            return typed[0]
        with open_regular(path) as source:
            return self.typer.content_type(path, source.read(SNIFF_BYTES))

    def _unchanged_by_cache(
        self,
        record: Record,
        identity: os.stat_result,
        typed: tuple[str | None, bool] | None,
        head: dict[str, Any],
    ) -> Record | None:
        """Skip a file without reading it, when its cached MD5 is the object's single-part ETag.

        Returns None whenever that cannot be decided this cheaply (no cache,
        not ``update``, a type libmagic must see, a multipart ETag); the
        normal path then decides.
        """
        if self.cache is None or self.options.mode != "update" or typed is None:
            return None
        content_type, compress = typed
        etag, parts = split_etag(str(head.get("ETag", "")))
        if parts or (not compress and head.get("ContentLength") != identity.st_size):
            return None
        sent_md5 = self.cache.get(identity, GZIP_MD5 if compress else "md5")
        if sent_md5 is None or etag != sent_md5:
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

    def skip_reason(self, key: str, unchanged: Callable[[dict[str, Any]], bool]) -> str | None:
        """Apply --put add/update: why to skip this key, or None to upload it."""
        if self.options.mode not in {"add", "update"}:
            return None
        head = self.index.lookup(key)
        if head is None:
            return None
        if self.options.mode == "add":
            return "exists"
        if "Metadata" not in head and split_etag(str(head.get("ETag", "")))[1]:
            head = self.destination.head(key)  # a multipart ETag: our metadata says how to check it
            if head is None:
                return None
        return "unchanged" if unchanged(head) else None

    def _put_plain(
        self,
        record: Record,
        key: str,
        path: str,
        identity: os.stat_result,
        content_type: str | None,
    ) -> Record:
        """Upload a file as it is: in one request (body.py), or in parallel parts when large.

        In one request, the bytes sent are read between two fstats equal to
        ``identity``, go out with their Content-MD5 and ``--checksum``, and
        their MD5 is what the record and the cache say; the store's answer
        must agree with it.
        """
        local = LocalDigests(path, identity, self.cache)
        size = identity.st_size
        unchanged = unchanged_test(
            identity, local, compare=self.options.compare, part_size=self.options.part_size
        )
        reason = self.skip_reason(key, unchanged)
        encoding = self.options.parameters.get("ContentEncoding")
        result = record.evolve(content_type=content_type, content_encoding=encoding)
        if reason is not None:
            return result.evolve(status="skipped", reason=reason, bytes=0, md5=local.known_md5())
        if self.options.dry_run:
            return result.evolve(status="planned", bytes=size, md5=local.known_md5())
        if size <= self.options.multipart_threshold:
            headers = self.destination.headers(content_type, encoding, {})
            single = self.destination.send_path(key, path, headers, size=size, expected=identity)
            uploaded = self._uploaded(result, key, local, single.response, size, md5=single.md5)
            return uploaded.evolve(bytes=single.size)
        metadata: dict[str, str] = {}
        if local.known_md5() is not None:
            metadata[MD5_METADATA] = str(local.known_md5())
        part_size = choose_part_size(size, record.part_size or self.options.part_size)
        if size > self.options.multipart_threshold:
            metadata[PART_SIZE_METADATA] = str(part_size)
        headers = self.destination.headers(content_type, encoding, metadata)
        response, sent = self.destination.send_file(
            key,
            path,
            headers,
            size,
            part_size=part_size,
            resume=(record.upload_id, record.part_size),
            identity=identity,
        )
        return self._uploaded(result, key, local, response, size).evolve(bytes=sent)

    def _copy(self, record: Record, source: server_copy.Source) -> Record:
        """Server-side copy of ``source``, by the rules of the ``--put`` mode.

        ``update`` skips a key that holds the source's size and ETag, ``add``
        any existing key; ``stupid`` and ``copy`` always copy.
        """
        key = record.key or source.key
        problem = check_key(key, control_ok=self.options.allow_control_keys)
        if problem is not None:
            raise PutError(problem)
        record = record.evolve(key=key)
        reason = self._copy_skip_reason(key, source, record.size)
        if reason is not None:
            return record.evolve(status="skipped", reason=reason, bytes=0)
        if self.options.dry_run:
            return record.evolve(status="planned", bytes=0)
        etag = server_copy.copy(
            self.client,
            source={"Bucket": source.bucket, "Key": source.key},
            bucket=self.options.bucket,
            key=key,
            parameters=self.options.parameters,
            size=record.size,
            threshold=self.options.copy_threshold,
        )
        return record.evolve(status="uploaded", bytes=0, etag=etag)

    def _copy_skip_reason(
        self, key: str, source: server_copy.Source, size: int | None
    ) -> str | None:
        """Why not to copy (``exists``, ``unchanged``), or None; asks S3 only what it must."""
        if self.options.mode not in {"add", "update"}:
            return None
        target = self.index.lookup(key)
        if target is None:
            return None
        if self.options.mode == "add":
            return "exists"
        if source.etag is not None and size is not None:
            known = {"ETag": source.etag, "ContentLength": size}
        else:
            known = dict(self.client.head_object(Bucket=source.bucket, Key=source.key))
        return "unchanged" if server_copy.same_object(known, target) else None
