"""The transport's settings the command line names: plain constants, free to import.

``--help``, a usage error, walk and stat must not pay for botocore or the
CRT (a third of a second), so the choices the flags offer live here, apart
from the modules that send requests; those import them from here.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

__all__ = [
    "ADDRESSING_STYLES",
    "AWS_DOMAIN",
    "CHECKSUMS",
    "DEFAULT_CHECKSUM",
    "DEFAULT_REGION",
    "AddressingStyle",
]

DEFAULT_REGION: Final = "us-east-1"
"""The region when neither a flag, the environment nor a profile names one (boto3's too)."""
AWS_DOMAIN: Final = ".amazonaws.com"
"""Only AWS itself gets virtual-hosted requests; other stores get path-style ones."""

AddressingStyle: TypeAlias = Literal["auto", "path", "virtual"]
ADDRESSING_STYLES: Final[tuple[AddressingStyle, ...]] = ("auto", "path", "virtual")
"""How a request names the bucket: ``virtual`` in the host (``bucket.host/key``), ``path``
in the path (``host/bucket/key``), ``auto`` virtual on AWS and path on any other store."""

CHECKSUMS: Final = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
"""S3's additional checksums. Each is sent as a header, computed by the CRT before the body
(per part for a multipart upload), and S3 checks it before it stores anything. Not as a
trailer: that needs "Content-Encoding: aws-chunked", which SeaweedFS then stores on the object."""
DEFAULT_CHECKSUM: Final = "crc32"
