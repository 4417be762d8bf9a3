"""The pgqueuer factory of the bench: ``pgq run systems.pgqueuer_app:create``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from pgqueuer import PgQueuer
from pgqueuer.db import AsyncpgDriver
from pgqueuer.models import Context, Job
from probe import send

DSN_ENV = "BENCH_PG_DSN"


@asynccontextmanager
async def create() -> AsyncIterator[PgQueuer]:
    """The factory ``pgqueuer.run()`` enters: one asyncpg connection, three entrypoints."""
    connection = await asyncpg.connect(os.environ[DSN_ENV])
    try:
        yield _entrypoints(PgQueuer(AsyncpgDriver(connection)))
    finally:
        await connection.close()


def _entrypoints(pgq: PgQueuer) -> PgQueuer:
    @pgq.entrypoint("noop")
    async def noop(job: Job) -> None:
        return None

    @pgq.entrypoint("touch")
    async def touch(job: Job) -> None:
        send((job.payload or b"").decode(), "start")

    @pgq.entrypoint("sleep")
    async def sleep(job: Job, ctx: Context) -> None:
        tag = (job.payload or b"").decode()
        send(tag, "start")
        try:
            with ctx.cancellation:  # the job stops when it is marked cancelled
                await asyncio.sleep(600)
        finally:
            send(tag, "stop")

    return pgq


def main() -> None:
    """``pgq run systems.pgqueuer_app:create`` through pgqueuer's own ``run()``
    (its CLI in pgqueuer 1.6 fails on its default log level)."""
    import argparse

    import pgqueuer

    parser = argparse.ArgumentParser()
    parser.add_argument("--max-concurrent-tasks", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(pgqueuer.run(create, max_concurrent_tasks=args.max_concurrent_tasks))


if __name__ == "__main__":
    main()
