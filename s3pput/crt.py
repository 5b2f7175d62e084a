"""PUT requests through awscrt's native S3 client: the only module that imports awscrt.

botocore spends about a millisecond of Python per request building, signing
and parsing; for small files that is the whole cost of an upload (issue #3).
Here Python only assembles the headers: the CRT signs (SigV4), sends, retries,
splits large files into parallel parts and checks their checksums on native
threads. HEAD, LIST and COPY stay on boto3, where they are rare.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Final
from urllib.parse import quote, urlsplit

from awscrt import auth, http, s3
from awscrt import io as crt_io
from awscrt.exceptions import AwsCrtError

if TYPE_CHECKING:
    import botocore.credentials

__all__ = ["CrtPutter", "PutFailedError", "PutResponse"]

MiB: Final = 1024 * 1024
MEMORY_LIMIT: Final = 256 * MiB
"""The CRT's buffer pool; 256 MiB is its minimum and keeps put near 150 MB RSS."""
_DNS_BUCKET: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_XML_FIELD: Final = re.compile(r"<(Code|Message)>([^<]*)</\1>")
_URI_SAFE: Final = "/~"


class PutFailedError(Exception):
    """S3 refused the PUT or it could not be sent; the message is one line for the record."""


@dataclass(frozen=True)
class PutResponse:
    """What S3 said about a stored object."""

    etag: str


def _error_text(
    error: BaseException | None, body: bytes | None, status: int | None, operation: str | None
) -> str:
    """One line from an S3 error body (Code and Message) or a transport error."""
    fields = dict(_XML_FIELD.findall(body.decode("utf-8", "replace"))) if body else {}
    name = operation or "PutObject"
    if "Code" in fields:
        return f"{name}: {fields['Code']} {fields.get('Message', '')}".strip()
    if status:
        return f"{name}: HTTP {status}"
    if isinstance(error, AwsCrtError):
        return f"{name}: {error.name}: {error.message}"
    return f"{name}: {error}"


class CrtPutter:
    """Send PutObject requests for one bucket through one shared native client.

    Credentials are asked of boto3's chain each time the CRT signs, so
    refreshed role credentials keep working and no secret is copied around.
    """

    def __init__(  # noqa: PLR0913  # each is one setting of the native client
        self,
        *,
        endpoint_url: str,
        region: str,
        credentials: botocore.credentials.Credentials,
        verify: bool | str = True,
        virtual_hosted: bool = False,
        part_size: int = 8 * MiB,
        multipart_threshold: int = 8 * MiB,
    ) -> None:
        url = urlsplit(endpoint_url)
        self._netloc = url.netloc
        self._virtual_hosted = virtual_hosted
        tls_mode = s3.S3RequestTlsMode.ENABLED
        tls_options = None
        if url.scheme == "http":
            tls_mode = s3.S3RequestTlsMode.DISABLED
        else:
            context = crt_io.TlsContextOptions()
            if verify is False:
                context.verify_peer = False
            elif isinstance(verify, str):
                context.override_default_trust_store_from_path(ca_filepath=verify)
            tls_options = crt_io.ClientTlsContext(context).new_connection_options()

        def current() -> auth.AwsCredentials:
            frozen = credentials.get_frozen_credentials()
            return auth.AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)

        signing = s3.create_default_s3_signing_config(
            region=region, credential_provider=auth.AwsCredentialsProvider.new_delegate(current)
        )
        self._client = s3.S3Client(
            region=region,
            tls_mode=tls_mode,
            tls_connection_options=tls_options,
            signing_config=signing,
            part_size=part_size,
            multipart_upload_threshold=multipart_threshold,
            memory_limit=MEMORY_LIMIT,
            connect_timeout_ms=10_000,
        )

    def _target(self, bucket: str, key: str) -> tuple[str, str]:
        """Return (Host header, request path) for a key, virtual-hosted on AWS when possible."""
        path = quote(key, safe=_URI_SAFE)
        if self._virtual_hosted and _DNS_BUCKET.match(bucket):
            return f"{bucket}.{self._netloc}", f"/{path}"
        return self._netloc, f"/{bucket}/{path}"

    def put(  # noqa: PLR0913  # the parts of one PutObject request
        self,
        bucket: str,
        key: str,
        headers: Sequence[tuple[str, str]],
        *,
        body: bytes | None = None,
        stream: IO[bytes] | None = None,
        filepath: str | None = None,
        size: int,
        timeout: float | None = None,
    ) -> PutResponse:
        """Upload ``body``, ``stream`` or the file at ``filepath``; wait; raise PutFailedError.

        A file is read by the CRT itself, in parallel parts above the
        multipart threshold; files and streams are sent with a CRC32 trailer
        that S3 checks (a bytes body carries Content-MD5 instead).
        """
        host, path = self._target(bucket, key)
        request = http.HttpRequest(
            "PUT",
            path,
            http.HttpHeaders([("Host", host), ("Content-Length", str(size)), *headers]),
            io.BytesIO(body) if body is not None else stream,
        )
        found: dict[str, str] = {}
        failure: list[str] = []

        def on_headers(status_code: int, headers: list[tuple[str, str]], **_: object) -> None:
            del status_code
            for name, value in headers:
                if name.lower() == "etag":
                    found["etag"] = value.strip('"')

        def on_done(
            error: BaseException | None = None,
            error_body: bytes | None = None,
            status_code: int | None = None,
            error_operation_name: str | None = None,
            **_: object,
        ) -> None:
            if error is not None:
                failure.append(_error_text(error, error_body, status_code, error_operation_name))

        checksum = None
        if body is None:
            checksum = s3.S3ChecksumConfig(
                algorithm=s3.S3ChecksumAlgorithm.CRC32, location=s3.S3ChecksumLocation.TRAILER
            )
        meta = self._client.make_request(
            type=s3.S3RequestType.PUT_OBJECT,
            request=request,
            send_filepath=filepath,
            checksum_config=checksum,
            on_headers=on_headers,
            on_done=on_done,
        )
        future = meta.finished_future
        try:
            future.result(timeout)
        except TimeoutError:
            meta.cancel()
            future.exception()
            raise PutFailedError(f"PutObject: no answer within {timeout:.0f} s") from None
        except Exception:  # noqa: BLE001, S110  # on_done has recorded why, in S3's words
            pass
        if failure:
            raise PutFailedError(failure[0])
        return PutResponse(etag=found.get("etag", ""))
