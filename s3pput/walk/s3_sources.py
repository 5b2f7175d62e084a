"""``s3pput-walk s3://BUCKET/PREFIX``: the records of every S3 source, selected as files are.

It joins what the walk of one prefix gives (``s3_objects.iter_objects``)
for each source URL, keeps the share ``--shard`` and ``--limit`` keep, and
turns a listing that fails into a last failed record saying why, so that
stat, at the end of the pipe, does not report an empty success. This
module must not know argv, how the client was made, or where records go.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from s3pput import log
from s3pput.records import Record
from s3pput.transport.errors import code_and_message, request_errors
from s3pput.walk.local_tree import STAGE, WalkOptions, selected
from s3pput.walk.s3_objects import iter_objects

if TYPE_CHECKING:
    from s3pput.transport.clients import S3Client

__all__ = ["s3_records"]

_log = log.get_logger(STAGE)


def s3_records(client: S3Client, urls: Iterable[str], options: WalkOptions) -> Iterator[Record]:
    """A record per object under each URL, in order; a failed listing ends them with a failure."""
    keep = options.keeps_path if options.exclude else None
    objects = (r for url in urls for r in iter_objects(client, url, options.prefix, keep))
    try:
        yield from selected(objects, options)
    except request_errors() as exc:
        error = code_and_message(exc)
        _log.error("cannot list the S3 source", error=error)
        yield Record().failed(STAGE, f"cannot list the S3 source: {error}")
