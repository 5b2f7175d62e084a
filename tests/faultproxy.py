"""A fault-injecting HTTP/1.1 reverse proxy for tests: S3 errors, resets, stalls, cut answers.

Unlike a byte relay, it parses every request and response (head and body framing), so
a policy can fail one request of a kept-alive connection and let the next one through,
as a loaded S3 endpoint does. It runs its own asyncio loop on a daemon thread, so tests
stay synchronous: ``with FaultProxy(port, Switch(answer(503))) as proxy: ...proxy.url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from enum import Enum
from http import HTTPStatus
from types import TracebackType
from typing import Final, Literal, NamedTuple, Self, TypeAlias
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

__all__ = [
    "PASS",
    "RESET",
    "RESET_AFTER_BODY",
    "TRUNCATE",
    "Fault",
    "FaultProxy",
    "Kind",
    "Policy",
    "RequestInfo",
    "Seen",
    "Switch",
    "always",
    "answer",
    "delay",
    "first",
    "ratio",
    "sequence",
    "stall",
]

_HEAD_END: Final = b"\r\n\r\n"
_PIECE: Final = 64 * 1024
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_MESSAGES: Final = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
}
_CODES: Final = {429: "SlowDown", 500: "InternalError", 503: "SlowDown"}


class Kind(Enum):
    """What the proxy does with one request."""

    PASS = "PASS"  # noqa: S105  # a fault's name, not a password
    ANSWER = "ANSWER"
    RESET = "RESET"
    RESET_AFTER_BODY = "RESET_AFTER_BODY"
    STALL = "STALL"
    TRUNCATE = "TRUNCATE"
    DELAY = "DELAY"


@dataclass(frozen=True)
class Fault:
    """One decision; build them with the constants and ``answer``, ``stall``, ``delay``."""

    kind: Kind
    status: int = 0
    code: str = ""
    message: str = ""
    seconds: float = 0.0

    @property
    def name(self) -> str:
        """The key of ``FaultProxy.counts``: the kind alone ("ANSWER", not "ANSWER 503")."""
        return self.kind.value


PASS: Final = Fault(Kind.PASS)
"""Forward the request and relay the answer."""
RESET: Final = Fault(Kind.RESET)
"""Close the client's connection with a TCP RST once the request head is read."""
RESET_AFTER_BODY: Final = Fault(Kind.RESET_AFTER_BODY)
"""Read the whole request body (sending 100 Continue if asked), then RST."""
TRUNCATE: Final = Fault(Kind.TRUNCATE)
"""Forward, then relay the head and half the body and close (see ``FaultProxy``)."""


def answer(status: int = 503, code: str | None = None, message: str | None = None) -> Fault:
    """Answer with an S3 XML error instead of forwarding (503 is S3's SlowDown)."""
    code = code or _CODES.get(status) or HTTPStatus(status).phrase.replace(" ", "")
    return Fault(Kind.ANSWER, status, code, message or _MESSAGES.get(code, code))


def stall(seconds: float) -> Fault:
    """Read the request but answer nothing for ``seconds``, then close the connection."""
    return Fault(Kind.STALL, seconds=seconds)


def delay(seconds: float) -> Fault:
    """Wait ``seconds``, then forward as PASS does: a slow but healthy server."""
    return Fault(Kind.DELAY, seconds=seconds)


@dataclass(frozen=True)
class RequestInfo:
    """A request as a policy sees it, before any of its body is read."""

    seq: int
    """Requests the proxy has seen before this one, over all connections."""
    method: str
    target: str
    """The path with its query, as sent: ``/bucket/key?partNumber=2&uploadId=...``."""
    headers: tuple[tuple[str, str], ...]

    @property
    def path(self) -> str:
        """The target without its query."""
        return self.target.partition("?")[0]

    @property
    def query(self) -> str:
        """The raw query string, without the "?"."""
        return self.target.partition("?")[2]

    @property
    def params(self) -> dict[str, str]:
        """The query parameters, so a policy can tell UploadPart (``partNumber``) apart."""
        return dict(parse_qsl(self.query, keep_blank_values=True))

    def header(self, name: str) -> str | None:
        """The first value of a header, whatever its case."""
        return _get(self.headers, name)


Policy: TypeAlias = Callable[[RequestInfo], Fault]


class Seen(NamedTuple):
    """One entry of ``FaultProxy.requests``; equal to a plain (method, target, name) tuple."""

    method: str
    target: str
    fault: str


def _matches(
    request: RequestInfo,
    methods: Collection[str] | None,
    where: Callable[[RequestInfo], bool] | None,
) -> bool:
    if methods is not None and request.method not in {m.upper() for m in methods}:
        return False
    return where is None or where(request)


def always(fault: Fault) -> Policy:
    """Every request gets ``fault``."""
    return lambda _request: fault


def ratio(
    fault: Fault,
    share: float,
    seed: int = 0,
    *,
    methods: Collection[str] | None = None,
    where: Callable[[RequestInfo], bool] | None = None,
) -> Policy:
    """A ``share`` of the matching requests get ``fault``, chosen by a hash, not by arrival.

    The n-th attempt at one method and target fails or not by (seed, method, target, n),
    so concurrent clients meet the same plan on every run, and a retry draws again.
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], not {share}")
    attempts: Counter[tuple[str, str]] = Counter()

    def decide(request: RequestInfo) -> Fault:
        if not _matches(request, methods, where):
            return PASS
        attempt = attempts[request.method, request.target]
        attempts[request.method, request.target] += 1
        key = f"{seed}\0{request.method}\0{request.target}\0{attempt}".encode()
        draw = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2**64
        return fault if draw < share else PASS

    return decide


def first(
    n: int,
    fault: Fault,
    *,
    methods: Collection[str] | None = None,
    where: Callable[[RequestInfo], bool] | None = None,
) -> Policy:
    """The first ``n`` matching requests get ``fault``; the rest pass."""
    return sequence([fault] * n, methods=methods, where=where)


def sequence(
    faults: Sequence[Fault],
    *,
    methods: Collection[str] | None = None,
    where: Callable[[RequestInfo], bool] | None = None,
) -> Policy:
    """The i-th matching request gets ``faults[i]``; the ones after the last pass."""
    seen = 0

    def decide(request: RequestInfo) -> Fault:
        nonlocal seen
        if not _matches(request, methods, where):
            return PASS
        seen += 1
        return faults[seen - 1] if seen <= len(faults) else PASS

    return decide


class Switch:
    """A policy the test flips while clients run: ``switch.set(answer(503), seconds=10)``."""

    def __init__(
        self,
        fault: Fault = PASS,
        *,
        methods: Collection[str] | None = None,
        where: Callable[[RequestInfo], bool] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._fault = fault
        self._until: float | None = None
        self._methods = methods
        self._where = where

    def set(self, fault: Fault, seconds: float | None = None) -> None:
        """Give matching requests ``fault`` from now on, or for ``seconds`` and then PASS."""
        with self._lock:
            self._fault = fault
            self._until = None if seconds is None else time.monotonic() + seconds

    @property
    def fault(self) -> Fault:
        """What a matching request gets now."""
        with self._lock:
            if self._until is not None and time.monotonic() >= self._until:
                self._fault, self._until = PASS, None
            return self._fault

    def __call__(self, request: RequestInfo) -> Fault:
        """The current fault for a matching request, PASS for the others."""
        return self.fault if _matches(request, self._methods, self._where) else PASS


class _BadMessageError(Exception):
    """A head or chunk the proxy cannot parse: a bug in the test or the proxy."""


class _Framing(NamedTuple):
    """Where a message body ends (RFC 9112 section 6.3)."""

    kind: Literal["none", "length", "chunked", "close"]
    length: int = 0


def _parse_head(raw: bytes) -> tuple[list[str], list[tuple[str, str]]]:
    """(start line split in three, headers in order) of a head ending in CRLF CRLF."""
    start, *lines = raw[: -len(_HEAD_END)].decode("latin-1").split("\r\n")
    parts = start.split(" ", 2)
    if len(parts) < 2:  # a status line may lack its reason phrase
        raise _BadMessageError(f"bad start line {start!r}")
    headers = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon:
            raise _BadMessageError(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return parts, headers


def _build_head(start: list[str], headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [" ".join(start), *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _get(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((v for n, v in headers if n.lower() == name.lower()), None)


def _closes(headers: Sequence[tuple[str, str]]) -> bool:
    return "close" in (_get(headers, "Connection") or "").lower()


def _framing(headers: Sequence[tuple[str, str]], *, response: bool) -> _Framing:
    if "chunked" in (_get(headers, "Transfer-Encoding") or "").lower():
        return _Framing("chunked")
    length = _get(headers, "Content-Length")
    if length is not None:
        return _Framing("length", int(length)) if int(length) else _Framing("none")
    return _Framing("close") if response else _Framing("none")


def _bodiless(status: int) -> bool:
    """A 1xx, 204 or 304 answer, which has no body whatever its Content-Length says."""
    return status < 200 or status in {204, 304}  # HTTP's own numbers


def _response_framing(method: str, status: int, headers: list[tuple[str, str]]) -> _Framing:
    if method == "HEAD" or _bodiless(status):
        return _Framing("none")
    return _framing(headers, response=True)


async def _exactly(reader: asyncio.StreamReader, size: int) -> AsyncIterator[bytes]:
    while size > 0:
        data = await reader.read(min(size, _PIECE))
        if not data:
            raise asyncio.IncompleteReadError(b"", size)
        size -= len(data)
        yield data


async def _pieces(reader: asyncio.StreamReader, framing: _Framing) -> AsyncIterator[bytes]:
    """A body as it arrives, framing included (chunk sizes, trailers), to relay unchanged."""
    if framing.kind == "length":
        async for piece in _exactly(reader, framing.length):
            yield piece
    elif framing.kind == "close":
        while data := await reader.read(_PIECE):
            yield data
    elif framing.kind == "chunked":
        async for piece in _chunked(reader):
            yield piece


async def _chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        line = await reader.readuntil(b"\r\n")
        yield line
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError as exc:
            raise _BadMessageError(f"bad chunk size line {line!r}") from exc
        if size == 0:
            break
        async for piece in _exactly(reader, size + 2):  # the chunk and its CRLF
            yield piece
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
        yield line
    yield line


async def _discard(pieces: AsyncIterator[bytes]) -> None:
    async for _ in pieces:
        pass


def _error_answer(fault: Fault, request: RequestInfo, *, close: bool) -> bytes:
    """An S3 error as S3 sends it: XML with Code and Message, a request id, a date."""
    request_id = f"FAULTPROXY{request.seq:06d}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(fault.code)}</Code><Message>{escape(fault.message)}</Message>"
        f"<Resource>{escape(request.path)}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()
    headers = [
        ("Content-Type", "application/xml"),
        ("Content-Length", str(len(body))),
        ("x-amz-request-id", request_id),
        ("Date", formatdate(usegmt=True)),
        ("Server", "faultproxy"),
    ]
    if close:
        headers.append(("Connection", "close"))
    try:
        reason = HTTPStatus(fault.status).phrase
    except ValueError:
        reason = "Error"
    head = _build_head(["HTTP/1.1", str(fault.status), reason], headers)
    return head if request.method == "HEAD" else head + body


class _Connection:
    """One client connection and the upstream connection that serves it (opened lazily)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        transports: set[asyncio.WriteTransport],
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.up: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._transports = transports
        """Every open transport of the proxy, which close() aborts."""
        transports.add(writer.transport)
        self.continued = False
        """The last request's client got a 100 Continue."""

    def reset(self) -> None:
        """Close with a TCP RST: SO_LINGER (on, 0 s), then close at once."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def upstream(
        self, target: tuple[str, int]
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """The upstream connection, opened anew if the server closed the last one."""
        if self.up is not None and (self.up[0].at_eof() or self.up[1].is_closing()):
            self.drop_upstream()
        if self.up is None:
            self.up = await asyncio.open_connection(*target)
            self._transports.add(self.up[1].transport)
        return self.up

    def drop_upstream(self) -> None:
        if self.up is not None:
            self.up[1].transport.abort()
            self._transports.discard(self.up[1].transport)
            self.up = None

    async def finish(self, linger: float) -> None:
        """Close gently: FIN, then read until the client closes, so unread bytes cause no RST."""
        with contextlib.suppress(OSError, TimeoutError):
            if self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()
            async with asyncio.timeout(linger):
                while await self.reader.read(_PIECE):
                    pass

    def close(self) -> None:
        self.drop_upstream()
        self.writer.close()
        self._transports.discard(self.writer.transport)


class FaultProxy:
    """A reverse proxy on a free port of 127.0.0.1 (or ``listen_host``), failing as ``policy`` says.

    Requests are parsed one by one on kept-alive connections, with bodies framed by
    Content-Length or chunked encoding and ``Expect: 100-continue`` passed through.
    ANSWER reads and discards the body and keeps the connection, except when the client
    waits for 100 Continue: then it answers at once with ``Connection: close``, as S3
    does. TRUNCATE relays half the body; an empty body is declared 1 byte long instead
    (which botocore does not notice), and an answer to HEAD (or a 204) stops half-way
    through its status line. ``latency`` seconds are added before each piece forwarded
    either way. ``policy`` may be replaced at any time.
    """

    def __init__(  # noqa: PLR0913  # where to listen and relay to, and the three knobs
        self,
        target_port: int,
        policy: Policy | None = None,
        *,
        target_host: str = "127.0.0.1",
        listen_host: str = "127.0.0.1",
        latency: float = 0.0,
        linger: float = 1.0,
    ) -> None:
        self.policy: Policy = policy or always(PASS)
        self._target = (target_host, target_port)
        self._listen_host = listen_host
        """Loopback, unless a test's own network namespaces must reach it (a veth address)."""
        self._latency = latency
        self._linger = linger
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._requests: list[Seen] = []
        self._errors: list[BaseException] = []
        self._connections = 0
        self._seq = 0
        self._transports: set[asyncio.WriteTransport] = set()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"faultproxy-{target_port}", daemon=True
        )
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, listen_host, 0), self._loop
        ).result()
        self.port: int = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """The endpoint to give a client instead of the server's."""
        return f"http://{self._listen_host}:{self.port}"

    @property
    def counts(self) -> Counter[str]:
        """How many requests got each fault, by ``Fault.name``."""
        with self._lock:
            return Counter(self._counts)

    @property
    def requests(self) -> list[Seen]:
        """(method, target, fault name) of every request, in the order they arrived."""
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        """Client connections accepted so far (1 for a client that kept its connection)."""
        with self._lock:
            return self._connections

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected errors inside the proxy (bad messages, a raising policy): want none."""
        with self._lock:
            return list(self._errors)

    def close(self) -> None:
        """Stop serving, close every socket, stop the loop and its thread."""
        if self._closed:
            return
        self._closed = True
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        for _ in range(3):  # a connection accepted just now starts its task on the next turn
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            for transport in list(self._transports):
                transport.abort()
            await asyncio.sleep(0)
        await self._server.wait_closed()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection, request after request, until either side closes."""
        with self._lock:
            self._connections += 1
        conn = _Connection(reader, writer, self._transports)
        try:
            while await self._one(conn):
                pass
        except (OSError, asyncio.IncompleteReadError):
            pass  # a side closed or reset: what the faults are for
        except asyncio.CancelledError:
            pass  # close() cancels; ending quietly spares 3.11 logging the cancelled task
        except Exception as exc:  # noqa: BLE001  # the loop's boundary: keep it for the test
            with self._lock:
                self._errors.append(exc)
        finally:
            conn.close()

    def _decide(self, request: RequestInfo) -> Fault:
        fault = self.policy(request)
        with self._lock:
            self._counts[fault.name] += 1
            self._requests.append(Seen(request.method, request.target, fault.name))
        return fault

    async def _one(self, conn: _Connection) -> bool:
        """Handle one request; True if the connection may carry another."""
        try:
            head = await conn.reader.readuntil(_HEAD_END)
        except asyncio.IncompleteReadError:
            return False  # the client closed between requests
        start, headers = _parse_head(head)
        request = RequestInfo(self._seq, start[0], start[1], tuple(headers))
        self._seq += 1
        fault = self._decide(request)
        framing = _framing(headers, response=False)
        body = _pieces(conn.reader, framing)
        waits = framing.kind != "none" and (
            (_get(headers, "Expect") or "").lower() == "100-continue"
        )
        if fault.kind in {Kind.PASS, Kind.DELAY, Kind.TRUNCATE}:
            await asyncio.sleep(fault.seconds)
            truncate = fault.kind is Kind.TRUNCATE
            return await self._forward(conn, head, request, body, waits=waits, truncate=truncate)
        return await self._fail(conn, request, fault, body, waits=waits)

    async def _fail(
        self,
        conn: _Connection,
        request: RequestInfo,
        fault: Fault,
        body: AsyncIterator[bytes],
        *,
        waits: bool,
    ) -> bool:
        """Fail a request without forwarding it; True if the connection may carry another."""
        if fault.kind is Kind.ANSWER and not waits:
            await _discard(body)
            await self._send(conn.writer, _error_answer(fault, request, close=False))
            return not _closes(request.headers)
        if fault.kind is Kind.ANSWER:  # the body is not coming: answer now and close, as S3 does
            await self._send(conn.writer, _error_answer(fault, request, close=True))
            await conn.finish(self._linger)
        elif fault.kind is Kind.STALL:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(fault.seconds):
                    await _discard(body)
                    await asyncio.sleep(fault.seconds)
        elif fault.kind is Kind.RESET_AFTER_BODY:
            if waits:
                await self._send(conn.writer, _CONTINUE)
            await _discard(body)
            conn.reset()
        else:
            conn.reset()
        return False

    async def _forward(  # noqa: PLR0913  # one request's parts
        self,
        conn: _Connection,
        head: bytes,
        request: RequestInfo,
        body: AsyncIterator[bytes],
        *,
        waits: bool,
        truncate: bool,
    ) -> bool:
        """Send the request upstream while relaying its answer back (100 Continue included)."""
        try:
            _, up = await conn.upstream(self._target)
        except OSError:
            conn.reset()  # the server is down: as near to a refused connection as can be
            return False
        conn.continued = False
        await self._send(up, head)
        sending = asyncio.create_task(self._relay(body, up))
        try:
            keep = await self._answer_back(conn, request, truncate=truncate)
            if not sending.done() and (conn.continued or not waits):
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(sending), self._linger)
            if not sending.done() or sending.exception() is not None:
                keep = False  # answered before the body ended: its rest has no place to go
                conn.drop_upstream()
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
        if not keep:
            await conn.finish(self._linger)
        return keep

    async def _answer_back(
        self, conn: _Connection, request: RequestInfo, *, truncate: bool
    ) -> bool:
        """Relay interim answers and the final one; True if both connections stay usable."""
        assert conn.up is not None
        up = conn.up[0]
        while True:
            head = await up.readuntil(_HEAD_END)
            start, headers = _parse_head(head)
            status = int(start[1])
            if status >= 200 or status == 101:  # 1xx are interim
                break
            conn.continued = conn.continued or status == 100
            await self._send(conn.writer, head)
        framing = _response_framing(request.method, status, headers)
        if truncate:
            await self._truncated(conn, request, start, headers, framing)
            conn.drop_upstream()
            return False
        await self._send(conn.writer, head)
        await self._relay(_pieces(up, framing), conn.writer)
        if framing.kind == "close" or _closes(headers):
            conn.drop_upstream()
            return False
        return not _closes(request.headers)

    async def _truncated(
        self,
        conn: _Connection,
        request: RequestInfo,
        start: list[str],
        headers: list[tuple[str, str]],
        framing: _Framing,
    ) -> None:
        assert conn.up is not None
        up = conn.up[0]
        head = _build_head(start, headers)
        if framing.kind == "length":
            await self._send(conn.writer, head)
            await self._relay(_exactly(up, framing.length // 2), conn.writer)
        elif framing.kind != "none":
            raw = b"".join([piece async for piece in _pieces(up, framing)])
            await self._send(conn.writer, head + raw[: len(raw) // 2])
        elif request.method == "HEAD" or _bodiless(int(start[1])):  # only the head can break
            await self._send(conn.writer, head[: head.index(b"\r\n") // 2])
        else:
            kept = [(n, v) for n, v in headers if n.lower() != "content-length"]
            await self._send(conn.writer, _build_head(start, [*kept, ("Content-Length", "1")]))

    async def _relay(self, pieces: AsyncIterator[bytes], writer: asyncio.StreamWriter) -> None:
        async for piece in pieces:
            await self._send(writer, piece)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if self._latency:
            await asyncio.sleep(self._latency)
        writer.write(data)
        await writer.drain()
