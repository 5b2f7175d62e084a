"""The put stage from end to end: build the uploader, check the bucket, put every record.

``s3pput-put`` and the one-command ``s3pput`` both run this loop: batches of
input records go through the driver (with look-ahead, listing prefetch and
the stop hook wired to the uploader), the results go to ``emit`` in
batches, and an ``Outcome`` says how the run ended. What that means for an
exit status, where the records come from and where the results are
written are the caller's. This module must not know argv, exit codes or
``sys.stdout``; it knows the driver and the uploader, and no other stage.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, cast

from s3pput import log
from s3pput.errors import BucketError
from s3pput.ndjson import read_record_batches
from s3pput.put.bucket_check import check_bucket
from s3pput.put.checksum_cache import open_cache
from s3pput.put.driver import Driver, Emit
from s3pput.put.duplicates import mark_duplicates
from s3pput.put.lane import Lane, NativeDone, Outcome
from s3pput.put.options import PutOptions
from s3pput.put.pool import PoolLane, shares, start_workers
from s3pput.put.server_copy import record_source
from s3pput.put.target import STAGE
from s3pput.put.uploader import Uploader, claimed_key, is_passthrough
from s3pput.records import Record
from s3pput.transport.checksums import DEFAULT_CHECKSUM
from s3pput.transport.clients import (
    ClientOptions,
    LazyClient,
    S3Client,
    load_native,
    make_putter,
)
from s3pput.transport.shared_pace import SharedRates

__all__ = [
    "LOOKAHEAD",
    "RunOptions",
    "Stopped",
    "for_workers",
    "make_uploader",
    "make_uploaders",
    "put_all",
    "read_input",
    "run_put",
    "sends_nothing",
    "uploadable_check",
    "usable_bucket",
    "without_duplicates",
]

LOOKAHEAD: Final = 1024
"""Records read ahead of the uploads, so listings of the coming directories start early."""

_log = log.get_logger(STAGE)


@dataclass(frozen=True)
class RunOptions:
    """What one put run was asked for, checked and frozen by the command line."""

    put: PutOptions
    client: ClientOptions
    jobs: int
    files: tuple[str, ...]
    cache: Path | None
    checksum: str = DEFAULT_CHECKSUM
    workers: int = 1
    """Processes that upload (``--workers``); 1 uploads in this process."""


def sends_nothing(options: PutOptions) -> bool:
    """Whether a run needs no S3 at all: a dry run of ``--put stupid`` asks nothing.

    Every other run lists, compares or sends, so it needs credentials and a bucket.
    """
    return options.dry_run and options.mode == "stupid"


def make_uploader(options: RunOptions) -> Uploader:
    """Build the boto3 client (HEAD, COPY), the native putter (PUT) and the uploader."""
    if options.client.verify is False:
        warnings.filterwarnings("ignore", message="Unverified HTTPS request")
        _log.warning("TLS certificates are not verified (--insecure)")
    client = cast("S3Client", LazyClient(options.client))
    putter = make_putter(
        options.client,
        part_size=options.put.part_size,
        multipart_threshold=options.put.multipart_threshold,
        connections=options.jobs,
        checksum=options.checksum,
        sends_nothing=sends_nothing(options.put),
    )
    cache = None if options.cache is None else open_cache(options.cache)
    return Uploader(client, putter, options.put, cache=cache)


def for_workers(options: RunOptions) -> Callable[[int], RunOptions]:
    """A worker's options from its share of ``-j``; the rate limits' buckets shared by all.

    Call it before the workers are forked: the buckets live in memory that
    every worker maps, so together they keep to ``--max-requests`` and
    ``--max-bandwidth`` exactly as one process would.
    """
    retry = options.client.retry
    if retry.max_requests is not None or retry.max_bandwidth is not None:
        shared = SharedRates(retry.max_requests, retry.max_bandwidth)
        retry = dataclasses.replace(retry, shared=shared)

    def worker_options(jobs: int) -> RunOptions:
        client = dataclasses.replace(options.client, max_connections=jobs * 2 + 4, retry=retry)
        return dataclasses.replace(options, jobs=jobs, client=client, workers=1)

    return worker_options


def make_uploaders(options: RunOptions) -> tuple[Uploader, PoolLane | None]:
    """The reader's uploader and, with ``--workers`` above 1, the lane to the worker processes.

    The workers are forked first, before this process makes a native client
    (whose threads a fork would not copy). The reader's own uploader then
    checks the bucket, lists it for every worker, and answers what no
    worker did.
    """
    count = min(options.workers, options.jobs)  # -j 1 means one upload at a time
    if count <= 1:
        return make_uploader(options), None

    load_native()
    worker_options = for_workers(options)

    def make_worker_uploader(jobs: int) -> Uploader:
        return make_uploader(worker_options(jobs))

    workers = start_workers(shares(options.jobs, count), make_worker_uploader)
    uploader = make_uploader(options)
    return uploader, PoolLane(uploader, workers)


def usable_bucket(uploader: Uploader, options: PutOptions) -> None:
    """Check the bucket with one request before any record is read; raise BucketError if unusable.

    A dry run of ``--put stupid`` sends nothing, so it asks nothing either.
    """
    putter = uploader.putter
    _log.info(
        "connecting",
        endpoint=putter.endpoint_url,
        region=putter.region,
        profile=putter.profile or "default",
        credentials=putter.credential_source,
    )
    if sends_nothing(options):
        return
    access = check_bucket(putter, options.bucket, options.mode)
    if not access.listable:
        _log.warning(
            "listings refused: uploading without them",
            bucket=options.bucket,
            error=access.problem,
        )
    elif access.problem is not None:
        _log.warning("bucket check failed", bucket=options.bucket, error=access.problem)


def uploadable_check(options: PutOptions) -> Callable[[Record], str | None]:
    """What put needs of an input record, checked while its line number is known."""

    def check(record: Record) -> str | None:
        if record.path is not None or options.mode == "copy" or is_passthrough(record):
            return None
        source = record_source(record)
        if isinstance(source, str):
            return source
        if source is None:
            return "record has no path (nor path_b64), nor source_bucket and source_key"
        return None

    return check


def without_duplicates(
    batches: Iterable[list[Record]], options: PutOptions
) -> Iterator[list[Record]]:
    """The same batches, where a later record for a key already taken has failed."""
    return mark_duplicates(batches, functools.partial(claimed_key, options=options))


def read_input(files: Iterable[str], options: PutOptions) -> Iterator[list[Record]]:
    """The records of the record files (``-`` for stdin) as put takes them, in batches."""
    return without_duplicates(read_record_batches(files, STAGE, uploadable_check(options)), options)


def run_put(  # noqa: PLR0913  # the run, and the two lanes it may go through
    uploader: Uploader,
    batches: Iterable[list[Record]],
    emit: Emit,
    *,
    jobs: int,
    lane: Lane | None = None,
    pool: PoolLane | None = None,
) -> Outcome:
    """Upload every record, give ``emit`` the results in batches, close the uploader; say how.

    Ctrl-C (or SIGTERM) emits every record in flight and the rest of the
    input as failed "interrupted"; an ``emit`` that raises BrokenPipeError
    ends the run as "output closed". In both cases uploads may still run in
    daemon threads, so the process should exit at once afterwards. ``lane``
    replaces the uploader's per-record steps when given (the one-command
    form adds --resume to them). With a ``pool``, the records go to its
    worker processes (through ``lane`` when given, which then wraps it).
    """
    if pool is not None:
        jobs = pool.jobs
    driver = Driver(
        lane or pool or uploader,
        jobs,
        emit,
        lookahead=max(LOOKAHEAD, jobs * 2),
        prefetch=uploader.prefetch,
        on_stop=uploader.stop,
        after_starts=None if pool is None else pool.send,
    )
    finished = False
    try:
        outcome = driver.run(batches)
        finished = outcome.ended == "finished"
        return outcome
    finally:
        if pool is not None:
            pool.close(finished=finished)
        uploader.close()


def put_all(
    uploader: Uploader,
    batches: Iterable[list[Record]],
    emit: Emit,
    *,
    jobs: int,
    pool: PoolLane | None = None,
) -> Outcome:
    """Check the bucket, then put every record: the whole run of ``s3pput-put``.

    A bucket that cannot be used raises BucketError (the uploader closed)
    before a record is read. Ctrl-C during that check still answers every
    record, each "interrupted", and the run ends interrupted.
    """
    try:
        usable_bucket(uploader, uploader.options)
    except BucketError:
        if pool is not None:
            pool.close(finished=False)
        uploader.close()
        raise
    except KeyboardInterrupt:
        if pool is not None:
            pool.close(finished=False)
        outcome = run_put(uploader, batches, emit, jobs=jobs, lane=Stopped(uploader))
        if outcome.ended == "finished":
            outcome.ended = "interrupted"
        return outcome
    return run_put(uploader, batches, emit, jobs=jobs, pool=pool)


class Stopped:
    """The lane of a run stopped before it began: every record is reported interrupted."""

    def __init__(self, uploader: Uploader) -> None:
        self.interrupted = uploader.interrupted
        self.crashed = uploader.crashed

    def begin(self, record: Record, done: NativeDone) -> Record:
        """Answer at once: nothing is started."""
        del done
        return self.interrupted(record, begun=False)

    def process(self, record: Record) -> Record:
        """Not reached (``begin`` answers every record); answers the same way."""
        return self.interrupted(record, begun=False)
