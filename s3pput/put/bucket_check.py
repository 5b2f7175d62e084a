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
- An ``https://`` endpoint whose port speaks plain HTTP: after a second
  without success, two probe connections tell (transport/tls_probe.py),
  and the run stops with the ``http://`` URL to use instead.
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
TLS_DOUBT_SECONDS: Final = 1.0
"""How long an https check may go without success before its port is probed for plain HTTP."""
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
    early = answered.wait(min(wait, TLS_DOUBT_SECONDS))
    if not early or (failures[0] is not None and failures[0].code is None):  # no S3 answer
        _stop_if_plain_http(putter.endpoint_url, where)
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


def _stop_if_plain_http(endpoint_url: str, where: str) -> None:
    """Raise BucketError naming the http:// URL when an https endpoint's port speaks plain HTTP."""
    if not endpoint_url.startswith("https://"):
        return
    from s3pput.transport.tls_probe import plain_http_instead_of_tls  # noqa: PLC0415  # rare path

    plain = plain_http_instead_of_tls(endpoint_url)
    if plain is not None:
        raise BucketError(
            f"{where}: TLS failed: the port answers plain HTTP, not TLS; use {plain} instead"
        )
