"""A file sent as it is: on a worker thread, or started from the driver with no thread waiting.

``put_plain`` uploads a file in one request (body.py) or in parallel parts
when large; ``start_plain`` starts a new small file on the native client and
returns what turns its answer into the result. The bytes sent are read
between two fstats equal to the ``stat`` that decided to send them, go out
with their Content-MD5, and their MD5 is what the record and the cache say.
This module must not know how a record is routed here, nor the driver's
threads: it gets a Target and the facts the caller found out.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from s3pput.put.body import StoredOtherBytesError, read_snapshot
from s3pput.put.driver import NativeDone, Started
from s3pput.put.parts import choose_part_size
from s3pput.put.target import STAGE
from s3pput.put.unchanged import (
    MD5_METADATA,
    PART_SIZE_METADATA,
    LocalDigests,
    unchanged_test,
)
from s3pput.put.upload_tail import checksum_fields, skip_reason
from s3pput.transport.errors import describe_error
from s3pput.transport.native import PutFailedError, PutResponse

if TYPE_CHECKING:
    from s3pput.put.target import Target
    from s3pput.records import Record

__all__ = ["put_plain", "start_plain"]


def start_plain(  # noqa: PLR0913  # what begin() found out about the record
    target: Target,
    record: Record,
    path: str,
    identity: os.stat_result,
    content_type: str | None,
    *,
    done: NativeDone,
    stamp: Callable[[Record], Record],
) -> Started | Record:
    """Start a new small file on the native client (or plan it, in a dry run).

    The file is read here, between two fstats that must agree with
    ``identity``; the native client gets those bytes, never the path.
    ``stamp`` finishes a result (bucket, timing, log), as the uploader does.
    """
    key = str(record.key)
    size = identity.st_size
    record = record.evolve(
        size=record.size if record.size is not None else size,
        content_type=content_type,
        content_encoding=target.options.parameters.get("ContentEncoding"),
    )
    if target.options.dry_run:
        return stamp(record.evolve(status="planned", bytes=size))
    try:
        snapshot = read_snapshot(path, identity)
    except OSError as exc:
        return stamp(record.failed(STAGE, describe_error(exc)))
    local = LocalDigests(path, identity, target.cache)

    def finish(response: object, error: BaseException | None) -> Record:
        if isinstance(response, PutResponse) and error is None:
            try:
                target.destination.check(response, snapshot.md5, snapshot.data)
            except StoredOtherBytesError as exc:
                error = exc
        if not isinstance(response, PutResponse) or error is not None:
            result = record.failed(
                STAGE, describe_error(error) if error is not None else "no response"
            )
            if isinstance(error, PutFailedError):
                result = result.evolve(attempts=error.attempts)
            elif isinstance(response, PutResponse):
                result = result.evolve(attempts=response.attempts)
        else:
            result = _uploaded(
                target, record, key=key, local=local, response=response, size=size, md5=snapshot.md5
            )
            result = result.evolve(attempts=response.attempts)
        return stamp(result)

    headers = target.destination.headers(content_type, record.content_encoding, {})
    pending = target.destination.putter.put_async(
        target.options.bucket,
        key,
        target.destination.with_integrity(headers, snapshot.md5),
        body=snapshot.data,
        size=size,
        on_finished=done,
    )
    return Started(finish, pending.cancel, pending.deadline, size)


def _uploaded(  # noqa: PLR0913  # one upload's facts
    target: Target,
    record: Record,
    *,
    key: str,
    local: LocalDigests,
    response: PutResponse,
    size: int,
    md5: str | None = None,
) -> Record:
    """The result of a plain upload; ``md5`` is of the bytes sent, read as ``local``'s version.

    Never the ETag: a store that checks nothing answers with the ETag of
    whatever it stored.
    """
    if md5 is not None:
        local.remember("md5", md5)
    target.index.remember(key, response.etag, size)
    return record.evolve(
        status="uploaded",
        bytes=size,
        md5=local.known_md5(),
        etag=response.etag or None,
        **checksum_fields(target, response),
    )


def put_plain(  # noqa: PLR0913  # one upload's facts
    target: Target,
    record: Record,
    *,
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
    options = target.options
    local = LocalDigests(path, identity, target.cache)
    size = identity.st_size
    unchanged = unchanged_test(
        identity, local, compare=options.compare, part_size=options.part_size
    )
    reason = skip_reason(target, key, unchanged)
    encoding = options.parameters.get("ContentEncoding")
    result = record.evolve(content_type=content_type, content_encoding=encoding)
    if reason is not None:
        return result.evolve(status="skipped", reason=reason, bytes=0, md5=local.known_md5())
    if options.dry_run:
        return result.evolve(status="planned", bytes=size, md5=local.known_md5())
    if size <= options.multipart_threshold:
        headers = target.destination.headers(content_type, encoding, {})
        single = target.destination.send_path(key, path, headers, size=size, expected=identity)
        uploaded = _uploaded(
            target,
            result,
            key=key,
            local=local,
            response=single.response,
            size=size,
            md5=single.md5,
        )
        return uploaded.evolve(bytes=single.size)
    metadata: dict[str, str] = {}
    if local.known_md5() is not None:
        metadata[MD5_METADATA] = str(local.known_md5())
    part_size = choose_part_size(size, record.part_size or options.part_size)
    if size > options.multipart_threshold:
        metadata[PART_SIZE_METADATA] = str(part_size)
    headers = target.destination.headers(content_type, encoding, metadata)
    response, sent = target.destination.send_file(
        key,
        path,
        headers,
        size,
        part_size=part_size,
        resume=(record.upload_id, record.part_size),
        identity=identity,
    )
    uploaded = _uploaded(target, result, key=key, local=local, response=response, size=size)
    return uploaded.evolve(bytes=sent)
