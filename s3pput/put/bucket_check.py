"""One request before put reads any record: is the bucket there, and do our keys work.

Without it a missing bucket or unknown credentials cost one failed record
per file, after a request each. One ListObjectsV2 of at most one key, on
the native client (no boto3 to import), answers in a fraction of a second:

- ``NoSuchBucket``, ``InvalidAccessKeyId``, ``SignatureDoesNotMatch`` and
  the like: nothing can work, so the run stops (exit 2) with one line that
  names the bucket and the endpoint.
- ``AccessDenied``: write-only credentials (PutObject without ListBucket)
  are common for drop-box buckets. ``--put stupid`` (and copies) need no
  listing and go on; ``add`` and ``update`` decide from listings, so they
  stop and say so.
- Anything else (an endpoint that does not answer, a refused certificate):
  every record meets it and says it, as before; the run goes on. The check
  waits CHECK_SECONDS at most, so an endpoint that hangs does not hold the
  run (nor a Ctrl-C) up before any record is read.

This module knows the native client's request and S3's error codes, not
the command line.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from s3pput.errors import BucketError, S3RequestError

if TYPE_CHECKING:
    from s3pput.transport.native import NativePutter

__all__ = ["BucketAccess", "check_bucket"]

FATAL_CODES: Final = frozenset(
    {
        "NoSuchBucket",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidBucketName",
        "AuthorizationHeaderMalformed",
        "PermanentRedirect",
        "InvalidToken",
        "ExpiredToken",
        "AllAccessDisabled",
        "AccountProblem",
        "404",
    }
)
"""Answers that every request of the run would get: the bucket, the keys or the region is wrong."""
DENIED_CODES: Final = frozenset({"AccessDenied", "403"})
CHECK_SECONDS: Final = 5.0
"""Longest wait for the check's answer; without one, the records find out for themselves."""
LISTING_MODES: Final = frozenset({"add", "update"})
"""``--put`` modes that decide from listings what to send."""


@dataclass(frozen=True)
class BucketAccess:
    """What the check learned: whether listings work, and if not, what the store said."""

    listable: bool = True
    problem: str | None = None
    """Why listings are refused, or what else went wrong (then records will say it too)."""


def check_bucket(
    putter: NativePutter, bucket: str, mode: str, wait: float = CHECK_SECONDS
) -> BucketAccess:
    """List at most one key of ``bucket``; raise BucketError when the run cannot work.

    ``mode`` is the ``--put`` mode: ``add`` and ``update`` need listings.
    After ``wait`` seconds without an answer the run goes on (the request
    is left to end on its own).
    """
    where = f"bucket {bucket!r} at {putter.endpoint_url}"
    failures: list[S3RequestError | None] = []
    answered = threading.Event()

    def ask() -> None:
        try:
            putter.request(
                "ListObjectsV2", "GET", bucket, "", query={"list-type": "2", "max-keys": "1"}
            )
        except S3RequestError as exc:
            failures.append(exc)
        else:
            failures.append(None)
        finally:
            answered.set()

    threading.Thread(target=ask, name="s3pput-bucket-check", daemon=True).start()
    if not answered.wait(wait) or not failures:
        return BucketAccess(problem=f"{where}: no answer to ListObjectsV2 within {wait:.0f} s")
    exc = failures[0]
    if exc is not None:
        if exc.code in FATAL_CODES:
            raise BucketError(f"{where}: {exc}") from None
        if exc.code in DENIED_CODES:
            if mode in LISTING_MODES:
                raise BucketError(
                    f"{where}: listing refused ({exc}); --put {mode} needs ListBucket "
                    "to tell which keys exist; --put stupid uploads without listing"
                ) from None
            return BucketAccess(listable=False, problem=str(exc))
        return BucketAccess(problem=str(exc))
    return BucketAccess()
