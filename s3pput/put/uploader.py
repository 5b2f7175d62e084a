"""The put stage's core: one record in, one result record out, never an exception.

``Uploader.process`` is the error boundary of a record: whatever goes wrong
(a vanished file, a denied request, an unreachable endpoint) becomes a failed
record with a one-line error, and the run goes on. The uploader decides which
operation a record takes (plain_upload, gzip_upload, tar_member_upload,
copy_upload, or ``begin``'s inline start) and stamps its result; it must not
know how an operation makes, compares or sends a body: each takes a Target.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from s3pput import log
from s3pput.errors import PutError, S3RequestError, StoredOtherBytesError
from s3pput.keys import check_key, key_from_path
from s3pput.put import gzip_upload, server_copy, tar_member_upload
from s3pput.put.checksum_cache import ChecksumCache
from s3pput.put.content_type import ContentTyper
from s3pput.put.copy_upload import put_copy
from s3pput.put.destination import Destination
from s3pput.put.duplicates import is_duplicate
from s3pput.put.lane import NativeDone, Started
from s3pput.put.local_files import open_regular, stat_regular
from s3pput.put.options import PutOptions
from s3pput.put.plain_upload import put_plain, start_plain
from s3pput.put.quick_skip import compares_metadata, unchanged_by_cache
from s3pput.put.target import STAGE, LocalFile, Target
from s3pput.put.unchanged import same_by_metadata
from s3pput.records import INTERRUPTED, NOT_STARTED, Record, is_total
from s3pput.transport import retry
from s3pput.transport.errors import describe_error, request_errors

if TYPE_CHECKING:
    from s3pput.transport.clients import S3Client
    from s3pput.transport.native import NativePutter

__all__ = [
    "Uploader",
    "claimed_key",
    "is_passthrough",
]

INLINE_READ_LIMIT: Final = 256 * 1024
"""Files up to this are read on the driver thread and started without a
thread waiting (an MD5 of 256 KiB takes about half a millisecond); larger ones
are read and sent by a worker thread."""

_log = log.get_logger(STAGE)


_OUR_RECORD_ERRORS: Final[tuple[type[Exception], ...]] = (PutError, OSError, StoredOtherBytesError)


def _record_errors() -> tuple[type[Exception], ...]:
    """What fails one record and not the run: the file, the store, or our own checks said no."""
    return (*_OUR_RECORD_ERRORS, *request_errors())


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
        putter: NativePutter,
        options: PutOptions,
        clock: Callable[[], float] = time.monotonic,
        cache: ChecksumCache | None = None,
    ) -> None:
        self.client = client
        self.cache = cache
        self.putter = putter
        self.options = options
        self.clock = clock
        self.typer = ContentTyper(
            options.content_type,
            fixed=options.parameters.get("ContentType"),
            gzip=options.gzip,
            gzip_types=options.gzip_types,
        )
        self.destination = Destination(client, putter, options)
        self.index = self.destination.index
        self.target = Target(options, self.destination, cache)
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
            except _record_errors() as exc:
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

        Runs on the driver thread for every record. It answers at
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
            typed = self.typer.named(path)
            head = self.index.lookup(key) if self.options.mode in {"add", "update"} else None
        except OSError:
            return None  # process() meets the same problem and reports it
        except S3RequestError as exc:
            # The listing failed after its retries: asking again in process()
            # would only double the wait (an endpoint down).
            return self.unlisted(record, exc, started)
        if head is not None and not compares_metadata(self.options, typed):
            known = unchanged_by_cache(self.target, record, identity, typed, head)
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
        file = LocalFile(record, key, path, identity, typed[0])
        return start_plain(
            self.target, file, done=done, stamp=lambda result: self._finish(result, started)
        )

    def index_key(self, record: Record) -> str | None:
        """The key this record will ask the bucket index about, if any (add and update only).

        Put's reader process asks its index for it before a worker process
        uploads the record, so the bucket is listed once for all of them.
        """
        if self.options.mode not in {"add", "update"} or is_passthrough(record):
            return None
        path = record.path
        if path is None or _source_of(record, self.options) is not None:
            return None
        key, problem = self._key_of(record, path)
        return None if problem is not None else key

    def unlisted(self, record: Record, exc: S3RequestError, started: float) -> Record:
        """The result of a record whose key's listing failed after its retries."""
        failed = record.cleared().failed(STAGE, str(exc)).evolve(attempts=exc.attempts)
        return self._finish(failed, started)

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
        elif log.enabled(log.INFO):
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

    def interrupted(self, record: Record, *, begun: bool = True) -> Record:
        """The result of a record the run was stopped before it finished (see ``Lane``)."""
        if is_passthrough(record):
            return record
        failed = record.cleared().failed(STAGE, INTERRUPTED)
        if not begun:
            failed = failed.evolve(reason=NOT_STARTED)
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
            key = record.key or source.key
            problem = check_key(key, control_ok=self.options.allow_control_keys)
            if problem is not None:
                raise PutError(problem)
            return put_copy(self.target, record.evolve(key=key), source)
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
            return tar_member_upload.put_member(self.target, record, key, self.archives, self.typer)
        return self._process_file(record, key, path)

    def _process_file(self, record: Record, key: str, path: str) -> Record:
        identity = stat_regular(path)
        if self.cache is not None and self.options.mode == "update":
            head = self.index.lookup(key)
            if head is not None:
                known = unchanged_by_cache(
                    self.target, record, identity, self.typer.named(path), head
                )
                if known is not None:
                    return known
        if record.size is None:
            record = record.evolve(size=identity.st_size)
        content_type = self._content_type(path)
        file = LocalFile(record, key, path, identity, content_type)
        if self.typer.compress(content_type):
            if identity.st_size <= self.options.multipart_threshold:
                return gzip_upload.put_small(self.target, file)
            return gzip_upload.put_large(self.target, file)
        return put_plain(self.target, file)

    def _content_type(self, path: str) -> str | None:
        """The Content-Type to send; libmagic sees the first bytes only if the name says nothing."""

        def first_bytes(count: int) -> bytes:
            with open_regular(path) as source:
                return source.read(count)

        return self.typer.resolve(path, first_bytes)
