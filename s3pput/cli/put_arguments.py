"""The upload options of s3pput-put, which the one-command s3pput shares: argparse tables only.

Each group of options is added by one small function, so a reader finds a
flag by its group. The tables say what a flag is called, what it takes and
its help; what the flags mean together is ``cli/put.py``'s options, and how
an upload goes is the put stage's: this module must know neither.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from typing import Final

from s3pput.cli import _common
from s3pput.put.checksum_cache import default_cache_path
from s3pput.transport.retry import DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_WINDOW
from s3pput.transport.settings import ADDRESSING_STYLES, CHECKSUMS, DEFAULT_CHECKSUM
from s3pput.units import COPY_LIMIT

__all__ = [
    "CANNED_ACLS",
    "DEFAULT_JOBS",
    "WORKERS_VARIABLE",
    "add_put_arguments",
    "default_workers",
    "parse_size",
    "usable_cores",
]

CANNED_ACLS: Final = (
    "private",
    "public-read",
    "public-read-write",
    "authenticated-read",
    "aws-exec-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
    "log-delivery-write",
)
DEFAULT_JOBS: Final = 128
WORKERS_VARIABLE: Final = "S3PPUT_WORKERS"
"""The environment variable that sets ``--workers`` when the flag is not given."""
"""Uploads (and connections) in flight. Small new files wait on no thread at all, so
many in flight cost little: 128 beat 64 on 10,000 small files, directly (2,325 against
1,993 files/s) and with 20 ms of latency (2,243 against 1,722)."""
_SIZE = re.compile(r"^(\d+)([KMGT]i?B?|B)?$", re.IGNORECASE)
_UNITS: Final = {"": 1, "B": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    """Parse ``8M``, ``64MiB``, ``1G`` or a plain byte count."""
    match = _SIZE.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 8M, 64MiB, 1G)")
    unit = (match.group(2) or "").upper()[:1]
    return int(match.group(1)) * _UNITS[unit]


def add_put_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the upload options; the one-command s3pput shares them.

    ``--help`` lists the groups in the order they are made here, and the
    usage line lists the flags in the order the tables below add them.
    """
    connection = parser.add_argument_group("S3 connection (credentials: boto3's standard chain)")
    upload = parser.add_argument_group("what to upload and how")
    performance = parser.add_argument_group("performance")
    faults = parser.add_argument_group("faults")
    _add_connection(connection)
    _add_mode(upload)
    _add_object_settings(upload)
    _add_safeguards(upload)
    _add_cache(upload)
    _add_jobs(performance)
    _add_checksum(upload)
    _add_part_sizes(performance)
    _add_retries(faults)
    _add_limits(performance)


def _add_connection(group: argparse._ArgumentGroup) -> None:
    """Where the bucket is, and how to reach it and trust it."""
    group.add_argument("--bucket", required=True, help="destination bucket")
    group.add_argument(
        "--endpoint-url", metavar="URL", help="S3-compatible endpoint, e.g. http://127.0.0.1:8333"
    )
    group.add_argument(
        "--host", help="S3 host name (as s3-parallel-put); scheme from --secure/--insecure"
    )
    group.add_argument(
        "--region",
        "--bucket-region",
        "--bucket_region",
        dest="region",
        help="region of the bucket (default: boto3's, else us-east-1)",
    )
    group.add_argument("--profile", help="named profile from the AWS config files")
    group.add_argument(
        "--secure",
        dest="insecure",
        action="store_false",
        default=False,
        help="use TLS and verify certificates (the default)",
    )
    group.add_argument(
        "--insecure",
        dest="insecure",
        action="store_true",
        help="plain HTTP with --host; no certificate verification for https",
    )
    group.add_argument(
        "--ca-bundle",
        metavar="FILE",
        help="verify TLS with this CA bundle (default: AWS_CA_BUNDLE or the profile's "
        "ca_bundle, as aws-cli; else the system's CAs); --insecure overrides it",
    )
    group.add_argument(
        "--addressing-style",
        choices=ADDRESSING_STYLES,
        help="how requests name the bucket: path (HOST/BUCKET/KEY), virtual (BUCKET.HOST/KEY) "
        "or auto: virtual on AWS, path on other stores (default: the profile's s3 "
        "addressing_style, else auto)",
    )


def _add_mode(group: argparse._ArgumentGroup) -> None:
    """Which records are sent: always, new keys only, or new and changed content."""
    group.add_argument(
        "--put",
        dest="mode",
        choices=["add", "stupid", "update", "copy"],
        default="update",
        help="add: only new keys; stupid: always; update (default): new or changed "
        "content (MD5, right for multipart objects); copy: like stupid, and a record "
        "with only a key is copied from --source-bucket. Records with source_bucket and "
        "source_key are copied server-side in every mode",
    )
    group.add_argument(
        "--compare",
        choices=["checksum", "size", "size-mtime"],
        default="checksum",
        help="how --put update tells a file unchanged: checksum (default; its MD5, from the "
        "cache when it can, so a fresh git checkout uploads nothing and a same-size edit is "
        "caught), size, or size-mtime (same size and the object not older, as aws s3 sync; "
        "no file is read)",
    )


def _add_object_settings(group: argparse._ArgumentGroup) -> None:
    """What each object is stored with: its type, encoding, ACL, headers and class."""
    group.add_argument(
        "--content-type",
        default="guess",
        metavar="guess|magic|TYPE",
        help="guess from the name (default), magic: name then libmagic, or a literal type",
    )
    group.add_argument(
        "--gzip", action="store_true", help="gzip bodies of --gzip-type types, set Content-Encoding"
    )
    group.add_argument(
        "--gzip-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="content type to gzip (repeatable); 'guess' adds the default text types, "
        "'all' gzips everything",
    )
    group.add_argument(
        "--grant", choices=CANNED_ACLS, metavar="ACL", help="canned ACL: " + ", ".join(CANNED_ACLS)
    )
    group.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME:VALUE",
        help="extra header for every object (repeatable); x-amz-meta-* is metadata",
    )
    group.add_argument(
        "--metadata",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="user metadata (repeatable)",
    )
    group.add_argument("--encrypt-key", action="store_true", help="server-side encryption (AES256)")
    group.add_argument("--storage-class", metavar="CLASS", help="e.g. STANDARD_IA, GLACIER_IR")
    _add_aws_spellings(group)


AWS_HEADERS: Final = (
    ("--cache-control", "Cache-Control"),
    ("--content-disposition", "Content-Disposition"),
    ("--content-encoding", "Content-Encoding"),
    ("--content-language", "Content-Language"),
    ("--expires", "Expires"),
    ("--sse-kms-key-id", "x-amz-server-side-encryption-aws-kms-key-id"),
)
"""aws s3 cp's flags that are one header each: the header they set, checked as --header's."""
SSE_MODES: Final = ("AES256", "aws:kms", "aws:kms:dsse")


def _as_header(name: str, choices: tuple[str, ...] = ()) -> Callable[[str], str]:
    """An argparse ``type`` that turns a flag's value into a ``--header`` item."""

    def header(value: str) -> str:
        if choices and value not in choices:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(choices)}")
        return f"{name}:{value}"

    return header


def _add_aws_spellings(group: argparse._ArgumentGroup) -> None:
    """The names aws s3 cp gives the same settings: each adds a ``--header`` item.

    So they are checked as ``--header`` is (no CR or LF can reach a request)
    and go to parts' CreateMultipartUpload as to single PUTs.
    """
    for flag, header in AWS_HEADERS:
        group.add_argument(
            flag,
            dest="header",
            action="append",
            type=_as_header(header),
            metavar="VALUE",
            help=f"the {header} header, as aws s3 cp's {flag}",
        )
    group.add_argument(
        "--acl",
        dest="header",
        action="append",
        type=_as_header("x-amz-acl", CANNED_ACLS),
        metavar="ACL",
        help="canned ACL, as aws s3 cp's --acl (the same as --grant)",
    )
    group.add_argument(
        "--sse",
        dest="header",
        action="append",
        type=_as_header("x-amz-server-side-encryption", SSE_MODES),
        metavar="|".join(SSE_MODES),
        help="server-side encryption, as aws s3 cp's --sse (with --sse-kms-key-id for a KMS key)",
    )
    group.add_argument(
        "--sse-c",
        nargs="?",
        const="AES256",
        choices=("AES256",),
        help="server-side encryption with your own key (SSE-C), as aws s3 cp's --sse-c; "
        "needs --sse-c-key",
    )
    group.add_argument(
        "--sse-c-key",
        metavar="KEY|fileb://FILE",
        help="the 32-byte SSE-C key, as aws s3 cp's --sse-c-key: the text itself, or "
        "fileb://FILE to read its bytes (safer: a key on the command line shows in ps)",
    )
    group.add_argument(
        "--tags",
        dest="header",
        action="append",
        type=_tagging,
        metavar="KEY=VALUE[&KEY=VALUE]",
        help="object tags, URL-encoded as in S3's x-amz-tagging header",
    )


def _tagging(value: str) -> str:
    """``--tags``: ``k=v&k2=v2`` as S3 takes it; each pair must have a key."""
    for pair in value.split("&"):
        key, equals, _ = pair.partition("=")
        if not key or not equals:
            raise argparse.ArgumentTypeError(f"{pair!r} is not KEY=VALUE")
    return f"x-amz-tagging:{value}"


def _add_safeguards(group: argparse._ArgumentGroup) -> None:
    """Where copies come from, a run that only reports, and keys tools cannot show."""
    group.add_argument(
        "--source-bucket",
        metavar="BUCKET",
        help="with --put copy, the source of records that lack source_bucket",
    )
    group.add_argument(
        "--dry-run",
        "--dryrun",
        action="store_true",
        help="check and report (status planned), upload nothing (--dryrun is aws's spelling)",
    )
    group.add_argument(
        "--allow-control-keys",
        dest="allow_control_keys",
        action="store_true",
        default=True,
        help="send keys with control characters (line breaks, tabs, escapes) as they are: "
        "S3 stores them, as aws, s5cmd and rclone send them (the default; this flag is kept "
        "for older scripts); NUL is always refused",
    )
    group.add_argument(
        "--refuse-control-keys",
        dest="allow_control_keys",
        action="store_false",
        help="fail records whose key has a control character, before any request: for "
        "buckets that tools which cannot show or fetch such keys will read",
    )


def _add_cache(group: argparse._ArgumentGroup) -> None:
    """The cache of local MD5s that spares an update run from rereading files."""
    group.add_argument(
        "--cache",
        metavar="FILE",
        help="remember local MD5s here, keyed by inode, size, mtime and ctime, so an update "
        f"run does not reread unchanged files (default {default_cache_path()})",
    )
    group.add_argument("--no-cache", action="store_true", help="do not remember local MD5s")


def default_workers() -> int:
    """``--workers`` when not given: ``$S3PPUT_WORKERS`` if it is a count, else the usable cores."""
    given = os.environ.get(WORKERS_VARIABLE, "")
    if given.isdigit() and int(given) >= 1:
        return int(given)
    return usable_cores()


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _add_jobs(group: argparse._ArgumentGroup) -> None:
    """How many uploads run at once."""
    group.add_argument(
        "-j",
        "--jobs",
        "--processes",
        dest="jobs",
        type=_common.int_at_least(1),
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"uploads in flight, across all --workers (default {DEFAULT_JOBS}); --processes is "
        "s3-parallel-put's name for it, which it still means",
    )
    group.add_argument(
        "--workers",
        type=_common.int_at_least(1),
        default=None,
        metavar="N",
        help="processes that upload, each with its share of -j; one more reads the records, "
        "lists the bucket and writes the results (default: $S3PPUT_WORKERS, else the cores "
        f"this process may use, {usable_cores()} here); 1 uploads in the reading process",
    )


def _add_checksum(group: argparse._ArgumentGroup) -> None:
    """The checksum S3 checks each body against."""
    group.add_argument(
        "--checksum",
        choices=CHECKSUMS,
        default=DEFAULT_CHECKSUM,
        help=f"checksum sent with every body and checked by S3 before it stores it; "
        f"S3's value is recorded (default {DEFAULT_CHECKSUM})",
    )


def _add_part_sizes(group: argparse._ArgumentGroup) -> None:
    """When a file goes up in parts, and how big they are."""
    group.add_argument(
        "--multipart-threshold",
        type=parse_size,
        default=8 << 20,
        metavar="SIZE",
        help="files larger than this go up in parallel parts, which an interrupted run's "
        "records can resume (default 8M)",
    )
    group.add_argument(
        "--part-size",
        type=parse_size,
        default=8 << 20,
        metavar="SIZE",
        help="part size for multipart uploads (default 8M, at least 5M; larger for files over "
        "78 GiB, so that they fit in S3's 10,000 parts)",
    )


def _add_retries(group: argparse._ArgumentGroup) -> None:
    """How a request that fails is tried again, and when an attempt is given up."""
    group.add_argument(
        "--retries",
        type=_common.int_at_least(0),
        default=DEFAULT_RETRIES,
        metavar="N",
        help="try a request again up to N times after a reset, timeout, 5xx or 429, waiting "
        f"longer each time (default {DEFAULT_RETRIES}); 403, 404 and other refusals are final",
    )
    group.add_argument(
        "--retry-window",
        type=_common.positive_number,
        default=DEFAULT_WINDOW,
        metavar="SECONDS",
        help="no retry starts later than this after a request's first attempt, and an endpoint "
        "that answers nothing for this long fails what waits for it at once "
        f"(default {DEFAULT_WINDOW:.0f})",
    )
    group.add_argument(
        "--timeout",
        type=_common.positive_number,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="an attempt with no answer after this (plus 4 s per MiB of its body) is cancelled "
        f"and tried again (default {DEFAULT_TIMEOUT:.0f})",
    )


def _add_limits(group: argparse._ArgumentGroup) -> None:
    """Limits on the run's pace, and when a server-side copy goes in parts."""
    group.add_argument(
        "--max-requests",
        type=_common.positive_number,
        metavar="N",
        help="start at most N requests a second, across all jobs (for picky providers)",
    )
    group.add_argument(
        "--max-bandwidth",
        type=parse_size,
        metavar="SIZE",
        help="send at most SIZE bytes of bodies a second, across all jobs (e.g. 20M, for a "
        "shared link)",
    )
    group.add_argument(
        "--copy-threshold",
        type=parse_size,
        default=COPY_LIMIT,
        metavar="SIZE",
        help="server-side copies of objects larger than this go in parallel parts (default "
        "and most 5G: S3 copies no more in one request)",
    )
