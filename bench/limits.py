"""The limits flowjobs' start throughput is read against, measured in the same run:

* **FastAPI no-op POST**: a minimal FastAPI app whose POST returns ``{}``;
* **FastAPI + one INSERT**: a POST that inserts one row into a PostgreSQL
  table through SQLAlchemy async + psycopg, pooled like flowjobs (5 + 5);
* **load generator ceiling**: the same load generator against a raw asyncio
  responder (a fixed 200 answer, no framework), which shows how far the
  client itself can go.

Each app is served by uvicorn in its own process with flowjobs' ``serve``
settings (``access_log=False``, ``log_config=None``, uvloop and httptools).

As a script: ``python bench/limits.py fastapi --port P [--database-url URL]``
or ``python bench/limits.py responder --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager

import httptools
import loadgen
import procs
import sqlalchemy as sa
import uvloop
from fastapi import FastAPI, Request
from harness import free_port, postgres_database
from sqlalchemy.ext.asyncio import create_async_engine
from systems import Context, System

CREATE = (
    "CREATE TABLE IF NOT EXISTS bench_rows "
    "(id uuid PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
)
INSERT = "INSERT INTO bench_rows (id, body) VALUES (:id, CAST(:body AS jsonb))"


def fastapi_app(database_url: str | None) -> FastAPI:
    engine = (
        create_async_engine(
            database_url.replace("postgresql://", "postgresql+psycopg://", 1),
            pool_size=5,
            max_overflow=5,
        )
        if database_url
        else None
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if engine is not None:
            async with engine.begin() as conn:
                await conn.execute(sa.text(CREATE))
        yield
        if engine is not None:
            await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/noop")
    async def noop() -> dict[str, str]:
        return {}

    @app.post("/insert")
    async def insert(request: Request) -> dict[str, str]:
        assert engine is not None
        row_id = str(uuid.uuid4())
        body = json.dumps(await request.json())
        async with engine.begin() as conn:
            await conn.execute(sa.text(INSERT), {"id": row_id, "body": body})
        return {"id": row_id}

    return app


class _Responder(asyncio.Protocol):
    """Answers every HTTP/1.1 request on the connection with the same 200."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        if self.transport is not None:
            self.transport.write(self.ANSWER)


async def _respond_forever(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Responder, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


class Limit(System):
    """One of the three limits; appears in metric 1 only."""

    only = frozenset({"start_throughput"})
    path = "/noop"
    mode = "fastapi"
    needs_postgres = False

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self._stack = ExitStack()
        self.database_url = (
            self._stack.enter_context(postgres_database()) if self.needs_postgres else None
        )
        self.cpu_busy: list[float] = []

    def teardown(self) -> None:
        self._stack.close()

    def start_throughput(self) -> float:
        port = free_port()
        args = procs.python(__file__, self.mode, "--port", str(port))
        if self.database_url:
            args += ["--database-url", self.database_url]
        with procs.spawn(self.key, args, self.ctx.env(), self.ctx.log_dir) as process:
            procs.wait_healthy(
                f"http://127.0.0.1:{port}/health", process, self.ctx.log_dir, self.key
            )
            load = loadgen.run(
                loadgen.Request(port, self.path),
                self.ctx.sizes.start_jobs,
                self.ctx.connections,
                self.ctx.client_processes,
            )
        if load.statuses != {200: self.ctx.sizes.start_jobs}:
            raise RuntimeError(f"unexpected answers: {load.statuses}")
        self.cpu_busy.append(load.cpu_seconds / load.seconds / self.ctx.client_processes)
        return load.rate


class FastApiNoop(Limit):
    key = "fastapi_noop"
    name = "limit: FastAPI no-op POST"
    configuration = "uvicorn, 1 process; {c} connections"


class FastApiInsert(Limit):
    key = "fastapi_insert"
    name = "limit: FastAPI + one INSERT (PostgreSQL)"
    configuration = "uvicorn, 1 process, SQLAlchemy async + psycopg, pool 5+5"
    path = "/insert"
    needs_postgres = True


class LoadgenCeiling(Limit):
    key = "loadgen_ceiling"
    name = "limit: load generator ceiling"
    configuration = "raw asyncio responder (no framework)"
    mode = "responder"


def main() -> None:
    parser = argparse.ArgumentParser(description="serve one of the bench's limit apps")
    parser.add_argument("mode", choices=["fastapi", "responder"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    if args.mode == "responder":
        uvloop.run(_respond_forever(args.port))
        return
    import uvicorn

    uvicorn.run(
        fastapi_app(args.database_url),
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
