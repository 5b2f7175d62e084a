"""The native client: PUTs, parts, small requests and listings through awscrt's S3 client.

botocore spends about a millisecond of Python per request building, signing
and parsing; for small files that is the whole cost of an upload (issue #3).
Here Python only assembles the headers: the CRT signs (SigV4), sends and
computes checksums on native threads. Its own retries are off: every attempt
goes through dispatch.Dispatcher, which retries, counts attempts, slows down and
stops sending to a dead endpoint. HEAD and COPY stay on boto3, where they are rare.
It sends what it is asked; whether to upload, skip or give up is put's.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import IO, TYPE_CHECKING, Final, TypeAlias
from urllib.parse import quote, urlencode, urlsplit

from awscrt import http, s3

from s3pput.errors import S3RequestError
from s3pput.transport import retry
from s3pput.transport.checksums import DEFAULT_CHECKSUM
from s3pput.transport.customer_key import KEYED_OPERATIONS, CustomerKey
from s3pput.transport.dispatch import Cancel, Dispatcher, Handle
from s3pput.transport.list_page import ListPage, parse_list_page
from s3pput.transport.listed import Listed, PageEnd, Subdirectory
from s3pput.transport.listing_pages import directory_entries, tree_entries
from s3pput.transport.native_exchange import Exchange, endpoint_answers
from s3pput.transport.native_setup import native_clients
from s3pput.transport.put_response import PutResponse
from s3pput.transport.retry import RetryPolicy
from s3pput.units import MiB

if TYPE_CHECKING:
    from s3pput.transport.aws_config import Keys

__all__ = [
    "NativePutter",
    "PutResponse",
]

_DNS_BUCKET: Final = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_URI_SAFE: Final = "/~"


PutCallback: TypeAlias = Callable[[PutResponse | None, S3RequestError | None], None]


class NativePutter:
    """Send PutObject requests for one bucket through one shared native client.

    Credentials come from boto3's chain; refreshable ones are asked for each
    time the CRT signs, so refreshed role credentials keep working.
    """

    def __init__(  # noqa: PLR0913  # each is one setting of the native client
        self,
        *,
        endpoint_url: str,
        region: str,
        credentials: Keys,
        verify: bool | str = True,
        virtual_hosted: bool = False,
        part_size: int = 8 * MiB,
        multipart_threshold: int = 8 * MiB,
        connections: int | None = None,
        checksum: str = DEFAULT_CHECKSUM,
        policy: RetryPolicy | None = None,
        profile: str | None = None,
        credential_source: str = "",
        customer_key: CustomerKey | None = None,
    ) -> None:
        url = urlsplit(endpoint_url)
        self.endpoint_url = endpoint_url
        """Where requests go, for messages that name it."""
        self.region = region
        self.profile = profile
        """The profile the settings came from (None: none named), for ``-v``."""
        self.credential_source = credential_source
        """Where the keys came from (never the keys), for ``-v``."""
        self._keyed = customer_key.headers() if customer_key is not None else ()
        """``--sse-c``'s headers, for the requests about an object's bytes (KEYED_OPERATIONS)."""
        self.checksum = checksum
        self._checksum_config = s3.S3ChecksumConfig(
            algorithm=s3.S3ChecksumAlgorithm[checksum.upper()],
            location=s3.S3ChecksumLocation.HEADER,
        )
        self._checksum_header = f"x-amz-checksum-{checksum}"
        self._netloc = url.netloc
        self._virtual_hosted = virtual_hosted
        clients = native_clients(
            endpoint_url=endpoint_url,
            region=region,
            credentials=credentials,
            verify=verify,
            part_size=part_size,
            multipart_threshold=multipart_threshold,
            connections=connections,
        )
        self._refusal = clients.refusal
        """Why no request may be sent (the endpoint's certificate fails), or None."""
        self._client = clients.uploads
        self._large = clients.large
        self._lister = clients.lister
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

        For bodies sent in one request (larger ones go through put/parts.py);
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
        keyed = self._keyed if operation in KEYED_OPERATIONS else ()

        def build() -> dict[str, object]:
            request = http.HttpRequest(
                method,
                target,
                http.HttpHeaders(
                    [("Host", host), ("Content-Length", str(len(body))), *headers, *keyed]
                ),
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
        headers = [
            ("Host", host),
            ("Content-Length", str(size)),
            self.sdk_checksum_header,
            *self._keyed,
        ]

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
    ) -> Callable[[Exchange | None, S3RequestError | None, int], None]:
        """What an asynchronous request does when it is over: give its response or error over."""

        def finished(
            exchange: Exchange | None, failure: S3RequestError | None, attempts: int
        ) -> None:
            if failure is not None or exchange is None:
                on_finished(None, failure or S3RequestError("no answer"))
            else:
                on_finished(self._response(exchange, attempts), None)

        return finished

    def _response(self, exchange: Exchange, attempts: int = 1) -> PutResponse:
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
            http.HttpHeaders(
                [("Host", host), ("Content-Length", str(size)), *headers, *self._keyed]
            ),
            stream,
        )

    def list_directory(
        self, bucket: str, prefix: str, start_after: str = ""
    ) -> Iterator[Listed | Subdirectory | PageEnd]:
        """Yield the objects and subdirectories directly under ``prefix`` (delimiter "/").

        Page by page as listing_pages.directory_entries reads them, each
        page but the last followed by its ends; only those past
        ``start_after``, if given.
        """
        return directory_entries(partial(self._list_page, bucket), prefix, start_after)

    def list_tree(self, bucket: str, prefix: str) -> Iterator[Listed | PageEnd]:
        """Yield every object whose key starts with ``prefix``: a LIST per 1,000, no delimiter.

        Page by page as listing_pages.tree_entries reads them.
        """
        return tree_entries(partial(self._list_page, bucket), prefix)

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
        finished: Callable[[Exchange | None, S3RequestError | None, int], None],
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
            exchange = Exchange(
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
            finished(answer if isinstance(answer, Exchange) else None, failure, attempts)

        return self.dispatcher.submit(start, over, size, operation)

    def _send(
        self,
        operation: str,
        build: Callable[[], dict[str, object]],
        *,
        client: s3.S3Client,
        size: int = 0,
        errors_in_body: bool = False,
    ) -> tuple[Exchange, int]:
        """Run one request to the end, with retries; (its exchange, attempts). Raise S3RequestError.

        The attempts beyond the first are added to the thread's tally
        (retry.counting), which the record's ``attempts`` reports.
        """
        outcome: list[tuple[Exchange | None, S3RequestError | None, int]] = []
        over = threading.Event()

        def finished(
            exchange: Exchange | None, failure: S3RequestError | None, attempts: int
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
        """Whether the endpoint answers at all (the dispatcher asks while the breaker is open)."""
        return endpoint_answers(self._lister, self._netloc)


def _nothing() -> None:
    """Cancel an attempt that is over already."""
