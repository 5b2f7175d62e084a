"""A TCP proxy that adds a fixed one-way delay, to benchmark over a slow link without netem.

``python scripts/bench_proxy.py --target-port 8333 --delay-ms 10`` listens on
127.0.0.1 (a free port, printed on stdout once it listens) and forwards every
connection to the target. Each chunk is stamped ``arrival + delay`` in a
per-direction queue and written, in order, once due: 10 ms each way adds 20 ms
to every round trip without serialising a connection behind a sleep per chunk.
It uses asyncio protocols, not streams (no task, queue or await per chunk),
because on a 2-core machine the proxy's CPU competes with the client and the
server; it runs as its own process so the benchmark can count that CPU apart.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections import deque
from typing import cast

_Item = tuple[float, bytes]
"""When a chunk may leave, and the chunk; an empty chunk stands for EOF."""


class _Side(asyncio.Protocol):
    """One socket of a proxied connection; what it receives goes to ``peer`` after the delay."""

    def __init__(self, delay: float, live: set[_Side], upstream: _Proxy | None = None) -> None:
        self.delay = delay
        self.live = live
        self.upstream = upstream
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending: deque[_Item] = deque()
        self.timer: asyncio.TimerHandle | None = None
        self.eof_forwarded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the socket; a client's side also connects upstream before it reads."""
        self.transport = cast("asyncio.Transport", transport)
        self.live.add(self)
        if self.upstream is not None:
            self.transport.pause_reading()
            self.upstream.link(self)

    def data_received(self, data: bytes) -> None:
        """Queue the chunk with the time it may leave."""
        self.pending.append((self.loop.time() + self.delay, data))
        self._arm()

    def eof_received(self) -> bool:
        """Queue the half-close like data, and keep the socket open for the other direction."""
        self.pending.append((self.loop.time() + self.delay, b""))
        self._arm()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        """A reset or our own close: drop what is queued and close the other socket too."""
        self.live.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.pending.clear()
        if self.peer is not None and self.peer.transport is not None:
            if exc is None:
                self.peer.transport.close()
            else:
                self.peer.transport.abort()

    def pause_writing(self) -> None:
        """Our socket's send buffer is full: stop reading what would be sent to it."""
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        """Our socket drained: read from the other side again."""
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def _arm(self) -> None:
        if self.timer is None and self.pending and self.peer is not None:
            self.timer = self.loop.call_at(self.pending[0][0], self._flush)

    def _flush(self) -> None:
        """Write every chunk that is due, in order, as one write; then wait for the next."""
        self.timer = None
        assert self.peer is not None  # noqa: S101  # armed only once linked
        out = self.peer.transport
        now, batch = self.loop.time(), []
        while self.pending and self.pending[0][0] <= now:
            chunk = self.pending.popleft()[1]
            if chunk:
                batch.append(chunk)
                continue
            if out is not None and not out.is_closing():
                out.write(b"".join(batch))
                batch = []
                if out.can_write_eof():
                    out.write_eof()
            self._eof_forwarded()
        if batch and out is not None and not out.is_closing():
            out.write(b"".join(batch))
        self._arm()

    def _eof_forwarded(self) -> None:
        """Both directions closed: close both sockets."""
        self.eof_forwarded = True
        if self.peer is not None and self.peer.eof_forwarded:
            for side in (self, self.peer):
                if side.transport is not None:
                    side.transport.close()


class _Proxy:
    """Accepts clients and joins each to a fresh connection to the target."""

    def __init__(self, host: str, port: int, delay: float) -> None:
        self.host = host
        self.port = port
        self.delay = delay
        self.live: set[_Side] = set()
        self.connecting: set[asyncio.Task[None]] = set()

    def accept(self) -> _Side:
        """A protocol for a new client; it connects upstream before it reads anything."""
        return _Side(self.delay, self.live, upstream=self)

    def link(self, client: _Side) -> None:
        """Connect ``client`` to the target in the background."""
        task = client.loop.create_task(self._link(client))
        self.connecting.add(task)
        task.add_done_callback(self.connecting.discard)

    async def _link(self, client: _Side) -> None:
        assert client.transport is not None  # noqa: S101  # called from connection_made
        try:
            _, upstream = await client.loop.create_connection(
                lambda: _Side(self.delay, self.live), self.host, self.port
            )
        except OSError:
            client.transport.abort()
            return
        client.peer, upstream.peer = upstream, client
        if client.transport.is_closing():  # the client gave up while we connected
            upstream.connection_lost(None)
            return
        client.transport.resume_reading()
        client._arm()  # noqa: SLF001  # anything queued before the link

    def close(self) -> None:
        """Drop every connection at shutdown."""
        for task in list(self.connecting):
            task.cancel()
        for side in list(self.live):
            if side.transport is not None:
                side.transport.abort()


async def _serve(target_host: str, target_port: int, delay: float) -> None:
    proxy = _Proxy(target_host, target_port, delay)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(proxy.accept, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    proxy.close()
    await asyncio.sleep(0)  # let the aborts run their connection_lost callbacks


def main(argv: list[str] | None = None) -> int:
    """Parse the target and delay, then serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--target-host", default="127.0.0.1")
    parser.add_argument("--target-port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=10.0, help="added each way")
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.target_host, args.target_port, args.delay_ms / 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
