"""A file sent as it is: on a worker thread, or started from the driver with no thread waiting.

``put_plain`` uploads a file in one request (body.py) or in parallel parts
when large; ``start_plain`` starts a new small file on the native client and
returns what turns its answer into the result. The bytes sent are read
between two fstats equal to the ``stat`` that decided to send them, go out
with their Content-MD5, and their MD5 is what the record and the cache say.
This module must not know how a record is routed here, nor the driver's
threads: it gets a Target and the LocalFile the caller found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from s3pput.errors import S3RequestError, StoredOtherBytesError
from s3pput.put.body import read_snapshot
from s3pput.put.lane import NativeDone, Started
from s3pput.put.target import STAGE
from s3pput.put.unchanged import MD5_METADATA, LocalDigests, unchanged_test
from s3pput.put.upload_tail import (
    Headers,
    Stored,
    Upload,
    finish_upload,
    send_file,
    uploaded,
)
from s3pput.transport.errors import describe_error
from s3pput.transport.put_response import PutResponse

if TYPE_CHECKING:
    from s3pput.put.target import LocalFile, Target
    from s3pput.records import Record

__all__ = ["put_plain", "start_plain"]


def start_plain(
    target: Target, file: LocalFile, *, done: NativeDone, stamp: Callable[[Record], Record]
) -> Started | Record:
    """Start a new small file on the native client (or plan it, in a dry run).

    The file is read here, between two fstats that must agree with its
    ``identity``; the native client gets those bytes, never the path.
    ``stamp`` finishes a result (bucket, timing, log), as the uploader does.
    """
    key, path, identity, content_type = file.key, file.path, file.identity, file.content_type
    size = identity.st_size
    record = file.record.evolve(
        size=file.record.size if file.record.size is not None else size,
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
            problem = describe_error(error) if error is not None else "no response"
            result = record.failed(STAGE, problem)
            if isinstance(error, S3RequestError):
                result = result.evolve(attempts=error.attempts)
            elif isinstance(response, PutResponse):
                result = result.evolve(attempts=response.attempts)
        else:
            local.remember("md5", snapshot.md5)
            stored = Stored(response, size, size, snapshot.md5)
            result = uploaded(target, record, key, stored).evolve(attempts=response.attempts)
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


def put_plain(target: Target, file: LocalFile) -> Record:
    """Upload a file as it is: in one request (body.py), or in parallel parts when large.

    In one request, the bytes sent are read between two fstats equal to the
    file's ``identity``, go out with their Content-MD5 and ``--checksum``,
    and their MD5 is what the record and the cache say; the store's answer
    must agree with it.
    """
    options = target.options
    local = LocalDigests(file.path, file.identity, target.cache)
    size = file.identity.st_size

    def send(headers: Headers) -> Stored:
        if size <= options.multipart_threshold:
            single = target.destination.send_path(
                file.key, file.path, headers({}), size=size, expected=file.identity
            )
            local.remember("md5", single.md5)
            return Stored(single.response, single.size, size, single.md5)
        known = local.known_md5()
        metadata = {} if known is None else {MD5_METADATA: known}
        response, sent = send_file(target, file, headers, metadata)
        return Stored(response, sent, size, local.known_md5())

    compare, part_size = options.compare, options.part_size
    upload = Upload(
        content_type=file.content_type,
        encoding=options.parameters.get("ContentEncoding"),
        unchanged=unchanged_test(file.identity, local, compare=compare, part_size=part_size),
        known_md5=local.known_md5,
        planned_bytes=size,
        send=send,
    )
    return finish_upload(target, file.record, file.key, upload)
