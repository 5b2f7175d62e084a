"""PUT requests through awscrt's native S3 client: the only module that imports awscrt.

botocore spends about a millisecond of Python per request building, signing
and parsing; for small files that is the whole cost of an upload (issue #3).
Here Python only assembles the headers: the CRT signs (SigV4), sends and
computes checksums on native threads. Its own retries are off: every attempt
goes through dispatch.Dispatcher, which retries, counts attempts, slows down and
stops sending to a dead endpoint. HEAD and COPY stay on boto3, where they are rare.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Final, TypeAlias
from urllib.parse import quote, urlencode, urlsplit

from awscrt import auth, checksums, http, s3
from awscrt import io as crt_io
from awscrt.exceptions import AwsCrtError

from s3pput.errors import S3RequestError
from s3pput.transport import retry
from s3pput.transport.dispatch import Cancel, Dispatcher, Handle
from s3pput.transport.list_page import ListPage, parse_list_page
from s3pput.transport.listed import Listed, PageEnd, Subdirectory
from s3pput.transport.retry import RetryPolicy
from s3pput.units import MiB

if TYPE_CHECKING:
    import botocore.credentials

__all__ = [
    "CHECKSUMS",
    "DEFAULT_CHECKSUM",
    "CrtPutter",
    "PutResponse",
    "RunningChecksum",
    "part_checksum",
]

MEMORY_LIMIT: Final = 256 * MiB
"""The CRT's buffer pool; 256 MiB is its minimum and keeps put near 150 MB RSS."""
_DNS_BUCKET: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_XML_FIELD: Final = re.compile(r"<(Code|Message)>([^<]*)</\1>")
_URI_SAFE: Final = "/~"
_CRT_CODES: Final = {
    "AWS_ERROR_S3_SLOW_DOWN": "SlowDown",
    "AWS_ERROR_S3_INTERNAL_ERROR": "InternalError",
    "AWS_ERROR_S3_REQUEST_TIME_TOO_SKEWED": "RequestTimeTooSkewed",
}
"""S3 answers the CRT reports by its own error name, without status or body."""
_LOCAL_ERRORS: Final = {
    "AWS_ERROR_NO_PERMISSION": "Permission denied",
    "AWS_ERROR_FILE_INVALID_PATH": "No such file or directory",
    "AWS_ERROR_FILE_OPEN_FAILURE": "Cannot open the file",
    "AWS_ERROR_FILE_READ_FAILURE": "Cannot read the file",
}
"""Errors of the CRT reading a file, which would otherwise read like S3's refusals."""
EVENT_LOOPS: Final = 1
"""Native I/O threads. One keeps up with a 1 GiB upload here and, for 10,000 small
files, costs a third less CPU than one per core (less cross-thread wake-up)."""
THROUGHPUT_TARGET_GBPS: Final = 100.0
CHECKSUMS: Final = ("crc32", "crc32c", "crc64nvme", "sha1", "sha256")
"""S3's additional checksums. Each is sent as a header, computed by the CRT before the body
(per part for a multipart upload), and S3 checks it before it stores anything. Not as a
trailer: that needs "Content-Encoding: aws-chunked", which SeaweedFS then stores on the object."""
DEFAULT_CHECKSUM: Final = "crc32"
LIST_CONNECTIONS: Final = 8
LARGE_CONNECTIONS: Final = 5
"""Connections for parts (and the requests around them) across all large files; parts in
flight are bounded by multipart.PartSlots. A 1 GiB upload took 6.5 s with 5 or 8."""
PROBE_TIMEOUT: Final = 10.0
HTTP_SERVER_ERROR: Final = 500
_NO_RETRIES: Final = s3.S3RetryConfig(retry_mode=s3.S3RetryMode.NONE)


def part_checksum(algorithm: str, chunks: Iterable[bytes]) -> str:
    """The base64 ``--checksum`` of some bytes, as S3 lists it for a part."""
    running = RunningChecksum(algorithm)
    for chunk in chunks:
        running.update(chunk)
    return running.value()


class RunningChecksum:
    """A ``--checksum`` fed a chunk at a time, as a part's body is read to be sent."""

    def __init__(self, algorithm: str) -> None:
        self._hash = hashlib.new(algorithm) if algorithm in {"sha1", "sha256"} else None
        crc: tuple[Callable[[bytes, int], int] | None, int] = _CRCS.get(algorithm, (None, 0))
        self._crc, self._width = crc
        self._value = 0

    def update(self, chunk: bytes | memoryview) -> None:
        """Add the next bytes."""
        if self._hash is not None:
            self._hash.update(chunk)
        elif self._crc is not None:
            self._value = self._crc(chunk, self._value)  # type: ignore[arg-type]  # buffers do

    def value(self) -> str:
        """The checksum (base64) of everything added so far."""
        if self._hash is not None:
            return base64.b64encode(self._hash.digest()).decode("ascii")
        return base64.b64encode(self._value.to_bytes(self._width, "big")).decode("ascii")


_CRCS: Final[dict[str, tuple[Callable[[bytes, int], int], int]]] = {
    "crc32": (checksums.crc32, 4),
    "crc32c": (checksums.crc32c, 4),
    "crc64nvme": (checksums.crc64nvme, 8),
}


@dataclass(frozen=True)
class PutResponse:
    """What S3 said about a stored object."""

    etag: str
    checksum: str | None = None
    """The object's additional checksum (base64) as S3 computed it, when S3 says (single part)."""
    attempts: int = 1
    """Attempts it took (more than one when retried)."""
    encryption: str | None = None
    """How the store encrypted it, as it says (``aws:kms``, ``sse-c``...): with SSE-KMS
    or SSE-C a single-part ETag is not the body's MD5."""


def _error(
    error: BaseException | None, body: bytes | None, status: int | None, operation: str
) -> S3RequestError:
    """Build the error from an S3 error body (Code and Message) or a transport error."""
    fields = dict(_XML_FIELD.findall(body.decode("utf-8", "replace"))) if body else {}
    if "Code" in fields:
        message = f"{operation}: {fields['Code']} {fields.get('Message', '')}".strip()
        return S3RequestError(message, fields["Code"])
    if status:
        return S3RequestError(f"{operation}: HTTP {status}", str(status))
    if isinstance(error, AwsCrtError):
        if error.name in _LOCAL_ERRORS:  # the CRT reads the file itself
            return S3RequestError(f"{_LOCAL_ERRORS[error.name]} (reading the local file)")
        if error.name in _CRT_CODES:  # a PUT's error answer, as the CRT names it
            code = _CRT_CODES[error.name]
            return S3RequestError(f"{operation}: {code}: {error.message}", code)
        message = f"{operation}: {error.name}: {error.message}"
        return S3RequestError(message, transport=error.name)
    return S3RequestError(f"{operation}: {error}")


@dataclass
class _Exchange:
    """What came back for one request, filled in by the CRT's callbacks."""

    operation: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytearray = field(default_factory=bytearray)
    failure: S3RequestError | None = None
    finished: Callable[[_Exchange], None] | None = None
    """Called on the CRT's thread once the request is over."""
    errors_in_body: bool = False
    """S3 may answer 200 with an error in the body (CompleteMultipartUpload): look for it."""
    status: int | None = None

    def on_headers(self, status_code: int, headers: list[tuple[str, str]], **_: object) -> None:
        self.status = status_code
        self.headers.update((name.lower(), value) for name, value in headers)

    def on_body(self, chunk: bytes, **_: object) -> None:
        self.body += chunk

    def on_done(
        self,
        error: BaseException | None = None,
        error_body: bytes | None = None,
        status_code: int | None = None,
        error_operation_name: str | None = None,
        **_: object,
    ) -> None:
        if error is not None:
            operation = error_operation_name or self.operation
            self.failure = _error(error, error_body, status_code, operation)
            self.status = status_code or self.status
        elif self.errors_in_body:
            answer = bytes(self.body)
            if answer.lstrip().startswith(b"<?xml") and b"<Error>" in answer[:512]:
                self.failure = _error(None, answer, None, self.operation)
        if self.finished is not None:
            self.finished(self)


PutCallback: TypeAlias = Callable[[PutResponse | None, S3RequestError | None], None]


def tls_problem(host: str, port: int, *, verify: bool | str) -> str | None:
    """Check the endpoint's certificate once with Python's ssl; return why it fails, if it does.

    The CRT does not give up on a certificate it cannot verify (it retries
    and its request never finishes), so an untrusted endpoint is found here
    and every record then fails at once with this reason. Network errors are
    not judged here: the requests themselves report them.
    """
    if verify is False:
        return None
    context = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
    try:
        with (
            socket.create_connection((host, port), timeout=10) as sock,
            context.wrap_socket(sock, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return f"TLS certificate verify failed for {host}:{port}: {exc.verify_message}"
    except OSError:
        return None


def _provider(credentials: botocore.credentials.Credentials) -> auth.AwsCredentialsProvider:
    """Hand boto3's credentials to the CRT.

    Keys that never change are handed over once; refreshable ones (roles, SSO)
    are asked of boto3 at each signing, which costs a Python call per request.
    """
    if not hasattr(credentials, "refresh_needed"):
        frozen = credentials.get_frozen_credentials()
        return auth.AwsCredentialsProvider.new_static(
            frozen.access_key, frozen.secret_key, frozen.token
        )

    def current() -> auth.AwsCredentials:
        frozen = credentials.get_frozen_credentials()
        return auth.AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)

    return auth.AwsCredentialsProvider.new_delegate(current)


class CrtPutter:
    """Send PutObject requests for one bucket through one shared native client.

    Credentials come from boto3's chain; refreshable ones are asked for each
    time the CRT signs, so refreshed role credentials keep working.
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
        connections: int | None = None,
        checksum: str = DEFAULT_CHECKSUM,
        policy: RetryPolicy | None = None,
    ) -> None:
        url = urlsplit(endpoint_url)
        self.endpoint_url = endpoint_url
        """Where requests go, for messages that name it."""
        self.checksum = checksum
        self._checksum_config = s3.S3ChecksumConfig(
            algorithm=s3.S3ChecksumAlgorithm[checksum.upper()],
            location=s3.S3ChecksumLocation.HEADER,
        )
        self._checksum_header = f"x-amz-checksum-{checksum}"
        self._netloc = url.netloc
        self._refusal: str | None = None
        self._virtual_hosted = virtual_hosted
        tls_mode = s3.S3RequestTlsMode.ENABLED
        tls_options = None
        if url.scheme == "http":
            tls_mode = s3.S3RequestTlsMode.DISABLED
        else:
            self._refusal = tls_problem(url.hostname or "", url.port or 443, verify=verify)
            context = crt_io.TlsContextOptions()
            if verify is False:
                context.verify_peer = False
            elif isinstance(verify, str):
                context.override_default_trust_store_from_path(ca_filepath=verify)
            tls_options = crt_io.ClientTlsContext(context).new_connection_options()

        signing = s3.create_default_s3_signing_config(
            region=region, credential_provider=_provider(credentials)
        )
        loops = crt_io.EventLoopGroup(EVENT_LOOPS)
        bootstrap = crt_io.ClientBootstrap(loops, crt_io.DefaultHostResolver(loops))
        common = {
            "bootstrap": bootstrap,
            "region": region,
            "tls_mode": tls_mode,
            "tls_connection_options": tls_options,
            "signing_config": signing,
            "connect_timeout_ms": 10_000,
            "retry_config": _NO_RETRIES,
        }
        self._client = s3.S3Client(
            **common,
            part_size=part_size,
            multipart_upload_threshold=multipart_threshold,
            memory_limit=MEMORY_LIMIT,
            # The CRT sizes its connection pool from the throughput target (about ten
            # connections at its default); small files need one per upload in flight,
            # so aim high and cap the pool at the number of uploads in flight.
            throughput_target_gbps=THROUGHPUT_TARGET_GBPS,
            max_active_connections_override=connections,
        )
        # Parts of large files get their own client with a few connections: parts in
        # flight are buffered (up to the pool's 256 MiB), and a few saturate one link.
        self._large = s3.S3Client(
            **common,
            part_size=part_size,
            multipart_upload_threshold=multipart_threshold,
            memory_limit=MEMORY_LIMIT,
            max_active_connections_override=LARGE_CONNECTIONS,
        )
        # Listings get their own client: behind a queue of PUTs they waited ~20 ms
        # each, while the records of their directory waited for them.
        self._lister = s3.S3Client(
            **common,
            memory_limit=MEMORY_LIMIT,
            max_active_connections_override=LIST_CONNECTIONS,
        )
        self.dispatcher = Dispatcher(policy or RetryPolicy(), self._probe)

    def _target(self, bucket: str, key: str) -> tuple[str, str]:
        """Return (Host header, request path) for a key, virtual-hosted on AWS when possible."""
        path = quote(key, safe=_URI_SAFE)
        if self._virtual_hosted and _DNS_BUCKET.match(bucket):
            return f"{bucket}.{self._netloc}", f"/{path}"
        return self._netloc, f"/{bucket}/{path}" if key else f"/{bucket}"

    def put(  # noqa: PLR0913  # the parts of one PutObject request
        self,
        bucket: str,
        key: str,
        headers: Sequence[tuple[str, str]],
        *,
        body: bytes | None = None,
        stream: IO[bytes] | None = None,
        size: int,
    ) -> PutResponse:
        """Upload ``body`` or ``stream``; wait; raise S3RequestError.

        For bodies sent in one request (larger ones go through multipart.py);
        a stream is rewound for each attempt. Never a path the CRT would open
        itself: body.py reads and checks the file. Every body carries the
        chosen checksum (``--checksum``), computed by the CRT, that S3 checks.
        """

        def build() -> dict[str, object]:
            if stream is not None:
                stream.seek(0)
            request = self._put_request(
                bucket, key, headers, body if body is not None else stream, size
            )
            return {
                "type": s3.S3RequestType.PUT_OBJECT,
                "request": request,
                "checksum_config": self._checksum_config,
            }

        exchange, attempts = self._send("PutObject", build, client=self._client, size=size)
        return self._response(exchange, attempts)

    def put_async(  # noqa: PLR0913  # the parts of one PutObject request
        self,
        bucket: str,
        key: str,
        headers: Sequence[tuple[str, str]],
        *,
        body: bytes,
        size: int,
        on_finished: PutCallback,
    ) -> Handle:
        """Start a PUT and return at once; ``on_finished`` runs on another thread when it ends.

        No Python thread waits for it, which is what makes many small files
        cheap. ``on_finished`` gets the response or the error and must not
        raise; it should hand them over and return, since the native thread
        holds the GIL meanwhile. The caller watches the handle's deadline.
        """

        def build() -> dict[str, object]:
            return {
                "type": s3.S3RequestType.PUT_OBJECT,
                "request": self._put_request(bucket, key, headers, body, size),
                "checksum_config": self._checksum_config,
            }

        return self._submit("PutObject", build, self._client, self._handing_to(on_finished), size)

    def request(  # noqa: PLR0913  # the parts of one S3 request
        self,
        operation: str,
        method: str,
        bucket: str,
        key: str,
        *,
        query: dict[str, str],
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> tuple[dict[str, str], bytes]:
        """Send one small request (create, complete, list or abort an upload); its headers and body.

        On the large files' client, like the parts. S3 can answer 200 with an
        error in the body (a failed CompleteMultipartUpload): that is an error
        too, retried when S3 says it may be.
        """
        host, path = self._target(bucket, key)
        target = f"{path}?{urlencode(query, quote_via=quote, safe='')}" if query else path

        def build() -> dict[str, object]:
            request = http.HttpRequest(
                method,
                target,
                http.HttpHeaders([("Host", host), ("Content-Length", str(len(body))), *headers]),
                io.BytesIO(body) if body else None,
            )
            return {"request": request, "operation_name": operation}

        exchange, _ = self._send(
            operation, build, client=self._large, size=len(body), errors_in_body=True
        )
        return exchange.headers, bytes(exchange.body)

    def put_part_async(  # noqa: PLR0913  # the parts of one UploadPart request
        self,
        bucket: str,
        key: str,
        *,
        query: dict[str, str],
        body: Callable[[], io.RawIOBase],
        size: int,
        on_finished: PutCallback,
    ) -> Handle:
        """Start one UploadPart of ``size`` bytes from ``body()``; ``on_finished`` as put_async.

        ``body`` gives a fresh stream for each attempt. The part carries the
        ``--checksum`` header, computed by the CRT, which S3 checks; its
        answer (ETag, checksum) goes into the completion.
        """
        host, path = self._target(bucket, key)
        target = f"{path}?{urlencode(query, quote_via=quote, safe='')}"
        headers = [("Host", host), ("Content-Length", str(size)), self.sdk_checksum_header]

        def build() -> dict[str, object]:
            request = http.HttpRequest("PUT", target, http.HttpHeaders(headers), body())
            return {
                "request": request,
                "operation_name": "UploadPart",
                "checksum_config": self._checksum_config,
            }

        return self._submit("UploadPart", build, self._large, self._handing_to(on_finished), size)

    @property
    def sdk_checksum_header(self) -> tuple[str, str]:
        """The header that names the ``--checksum`` as the AWS SDKs send it.

        Some stores (moto) keep and return a part's checksum only when told its
        algorithm this way.
        """
        return ("x-amz-sdk-checksum-algorithm", self.checksum.upper())

    def _handing_to(
        self, on_finished: PutCallback
    ) -> Callable[[_Exchange | None, S3RequestError | None, int], None]:
        """What an asynchronous request does when it is over: give its response or error over."""

        def finished(
            exchange: _Exchange | None, failure: S3RequestError | None, attempts: int
        ) -> None:
            if failure is not None or exchange is None:
                on_finished(None, failure or S3RequestError("no answer"))
            else:
                on_finished(self._response(exchange, attempts), None)

        return finished

    def _response(self, exchange: _Exchange, attempts: int = 1) -> PutResponse:
        headers = exchange.headers
        encryption = headers.get("x-amz-server-side-encryption")
        if headers.get("x-amz-server-side-encryption-customer-algorithm"):
            encryption = "sse-c"
        return PutResponse(
            headers.get("etag", "").strip('"'),
            headers.get(self._checksum_header),
            attempts,
            encryption,
        )

    def _put_request(
        self,
        bucket: str,
        key: str,
        headers: Sequence[tuple[str, str]],
        body: bytes | IO[bytes] | None,
        size: int,
    ) -> http.HttpRequest:
        """The PutObject request (a fresh one for each attempt)."""
        host, path = self._target(bucket, key)
        stream = io.BytesIO(body) if isinstance(body, bytes) else body
        return http.HttpRequest(
            "PUT",
            path,
            http.HttpHeaders([("Host", host), ("Content-Length", str(size)), *headers]),
            stream,
        )

    def list_directory(
        self, bucket: str, prefix: str, start_after: str = ""
    ) -> Iterator[Listed | Subdirectory | PageEnd]:
        """Yield the objects and subdirectories directly under ``prefix`` (delimiter "/").

        Each page but the last is followed by its ends (``PageEnd``): a store
        may skip keys when it resumes past them (listing_order.py).

        Only those past ``start_after``, if given (sent with the first page
        only: the continuation token carries it on). The XML is read by
        listpage.py rather than botocore's generic parser, which costs ~100 us
        per key (it parses every LastModified date).
        """
        token: str | None = None
        while True:
            query = {"prefix": prefix, "delimiter": "/"}
            if token is not None:
                query["continuation-token"] = token
            elif start_after:
                query["start-after"] = start_after
            page = self._list_page(bucket, query)
            yield from page.objects
            yield from (Subdirectory(sub) for sub in page.prefixes)
            yield from (PageEnd(end) for end in page.ends())
            if not page.truncated:
                return
            token = page.token

    def list_tree(self, bucket: str, prefix: str) -> Iterator[Listed | PageEnd]:
        """Yield every object whose key starts with ``prefix``: a LIST per 1,000, no delimiter.

        Each page but the last is followed by its ends, as ``list_directory``'s are.
        """
        token: str | None = None
        while True:
            query = {"prefix": prefix}
            if token is not None:
                query["continuation-token"] = token
            page = self._list_page(bucket, query)
            yield from page.objects
            yield from (PageEnd(end) for end in page.ends())
            if not page.truncated:
                return
            token = page.token

    def _list_page(self, bucket: str, query: dict[str, str]) -> ListPage:
        """One ListObjectsV2 request, on the listing client; what its page holds.

        Keys are asked URL-encoded (so that any key survives XML), and decoded
        only if the answer says it encoded them: some stores ignore the request.
        """
        host, path = self._target(bucket, "")
        query = {"list-type": "2", **query, "encoding-type": "url"}
        target = f"{path}?{urlencode(query, quote_via=quote, safe='')}"

        def build() -> dict[str, object]:
            request = http.HttpRequest("GET", target, http.HttpHeaders([("Host", host)]))
            return {"request": request, "operation_name": "ListObjectsV2"}

        exchange, _ = self._send("ListObjectsV2", build, client=self._lister)
        return parse_list_page(bytes(exchange.body))

    def _submit(  # noqa: PLR0913  # one request, as the dispatcher runs it
        self,
        operation: str,
        build: Callable[[], dict[str, object]],
        client: s3.S3Client,
        finished: Callable[[_Exchange | None, S3RequestError | None, int], None],
        size: int,
        *,
        errors_in_body: bool = False,
    ) -> Handle:
        """Hand one request to the dispatcher, which makes each attempt with ``build()``."""
        refusal = self._refusal

        def start(done: Callable[[object, S3RequestError | None], None]) -> Cancel:
            if refusal is not None:
                done(None, S3RequestError(f"{operation}: {refusal}"))
                return _nothing
            exchange = _Exchange(
                operation,
                finished=lambda ex: done(ex, ex.failure),
                errors_in_body=errors_in_body,
            )
            options = build()
            kind = options.pop("type", s3.S3RequestType.DEFAULT)
            meta = client.make_request(
                type=kind,
                on_headers=exchange.on_headers,
                on_body=exchange.on_body,
                on_done=exchange.on_done,
                **options,
            )
            cancel: Cancel = meta.cancel
            return cancel

        def over(answer: object, failure: S3RequestError | None, attempts: int) -> None:
            finished(answer if isinstance(answer, _Exchange) else None, failure, attempts)

        return self.dispatcher.submit(start, over, size, operation)

    def _send(
        self,
        operation: str,
        build: Callable[[], dict[str, object]],
        *,
        client: s3.S3Client,
        size: int = 0,
        errors_in_body: bool = False,
    ) -> tuple[_Exchange, int]:
        """Run one request to the end, with retries; (its exchange, attempts). Raise S3RequestError.

        The attempts beyond the first are added to the thread's tally
        (retry.counting), which the record's ``attempts`` reports.
        """
        outcome: list[tuple[_Exchange | None, S3RequestError | None, int]] = []
        over = threading.Event()

        def finished(
            exchange: _Exchange | None, failure: S3RequestError | None, attempts: int
        ) -> None:
            outcome.append((exchange, failure, attempts))
            over.set()

        handle = self._submit(
            operation, build, client, finished, size, errors_in_body=errors_in_body
        )
        if not over.wait(max(0.0, handle.deadline - time.monotonic())):
            handle.cancel()
            over.wait()
        exchange, failure, attempts = outcome[0]
        retry.note(attempts)
        if failure is not None:
            raise failure
        if exchange is None:
            raise S3RequestError(f"{operation}: no answer")
        return exchange, attempts

    def _probe(self) -> bool:
        """Whether the endpoint answers at all: one HEAD of "/", no retries; any answer will do."""
        exchange = _Exchange("Probe")
        meta = self._lister.make_request(
            type=s3.S3RequestType.DEFAULT,
            request=http.HttpRequest("HEAD", "/", http.HttpHeaders([("Host", self._netloc)])),
            operation_name="Probe",
            on_headers=exchange.on_headers,
            on_done=exchange.on_done,
        )
        try:
            meta.finished_future.result(PROBE_TIMEOUT)
        except TimeoutError:
            meta.cancel()
            return False
        except Exception:  # noqa: BLE001, S110  # an error answer is still an answer
            pass
        return exchange.status is not None and exchange.status < HTTP_SERVER_ERROR


def _nothing() -> None:
    """Cancel an attempt that is over already."""
