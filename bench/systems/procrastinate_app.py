"""The procrastinate app of the bench: its worker imports this module
(``procrastinate --app=systems.procrastinate_app.app worker``)."""

from __future__ import annotations

import asyncio
import os

import procrastinate
from probe import send

DSN_ENV = "BENCH_PG_DSN"


def make_app(dsn: str) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=dsn))

    @app.task(name="noop")
    async def noop() -> None:
        return None

    @app.task(name="touch")
    async def touch(tag: str) -> None:
        send(tag, "start")

    @app.task(name="sleep")
    async def sleep(tag: str) -> None:
        send(tag, "start")
        try:
            await asyncio.sleep(600)
        finally:
            send(tag, "stop")

    return app


app = make_app(os.environ.get(DSN_ENV, ""))
