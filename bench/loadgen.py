"""The HTTP load generator: raw asyncio (uvloop) HTTP/1.1 keep-alive
connections, responses parsed by httptools (both come with uvicorn[standard]),
in one or more processes of their own so that the client is not the
bottleneck (``limits.py`` measures its ceiling against a raw responder).

Each connection sends one request, waits for the whole response, and sends
the next, until the process's share of requests is used up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import httptools
import parallel
import uvloop


@dataclass(frozen=True)
class Request:
    port: int
    path: str
    body: bytes = b"{}"
    token: str | None = None
    method: str = "POST"

    def encode(self) -> bytes:
        lines = [
            f"{self.method} {self.path} HTTP/1.1",
            f"Host: 127.0.0.1:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(self.body)}",
        ]
        if self.token:
            lines.append(f"Authorization: Bearer {self.token}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``send`` resolves to the response status."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_result(self.parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ConnectionError(f"the server closed the connection: {exc}"))

    async def send(self, payload: bytes) -> int:
        assert self.transport is not None
        self.waiting = asyncio.get_running_loop().create_future()
        self.transport.write(payload)
        return await self.waiting


async def _load(
    request: Request, total: int, connections: int, ready: Callable[[], None]
) -> parallel.Span:
    loop = asyncio.get_running_loop()
    conns = [
        (await loop.create_connection(_Connection, "127.0.0.1", request.port))[1]
        for _ in range(connections)
    ]
    payload = request.encode()
    statuses: dict[int, int] = {}
    remaining = total

    async def pump(conn: _Connection) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status = await conn.send(payload)
            statuses[status] = statuses.get(status, 0) + 1

    ready()
    cpu, start = time.process_time(), time.monotonic()
    await asyncio.gather(*(pump(c) for c in conns))
    end = time.monotonic()
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    return parallel.Span(total, start, end, time.process_time() - cpu, statuses)


def _process(args: tuple[Request, int, int, float], ready: Callable[[], None]) -> parallel.Span:
    request, total, connections, timeout = args
    return uvloop.run(asyncio.wait_for(_load(request, total, connections, ready), timeout))


def run(
    request: Request, total: int, connections: int = 32, processes: int = 1, timeout: float = 600
) -> parallel.Load:
    """Sends ``total`` requests over ``connections`` connections spread over
    ``processes`` processes; the statuses counted and the time it took."""
    shares = parallel.split(total, processes)
    conns = parallel.split(connections, processes)
    return parallel.run(
        _process,
        [(request, share, max(1, c), timeout) for share, c in zip(shares, conns, strict=True)],
        timeout + 30,
    )
