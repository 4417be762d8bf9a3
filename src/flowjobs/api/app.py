"""The application factory: ``create_app(settings)``; nothing is built at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from flowjobs import __version__
from flowjobs.api import openapi, problems
from flowjobs.api.deps import AppState
from flowjobs.api.routes import jobs, rules, space_items, usage, webhooks
from flowjobs.config import Settings
from flowjobs.runtime import build_services

log = logging.getLogger("flowjobs.api")


def create_app(settings: Settings, *, run_worker: bool | None = None) -> FastAPI:
    """The HTTP app; with ``run_worker`` (default: unless the settings disable
    it) it also runs a worker in the same process, woken in-process."""
    embedded = not settings.jobs_server_disabled if run_worker is None else run_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings)
        app.state.flowjobs = AppState(
            settings=settings,
            manager=services.manager,
            catalog=services.catalog,
            usage=services.usage,
            rules=services.rules,
            webhooks=services.webhooks,
        )
        worker = services.worker() if embedded else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.shutdown()
            await services.close()

    app = FastAPI(
        title="flowjobs Jobs API",
        version=__version__,
        description="Start, cancel and follow long-running integration flows as jobs. "
        "Wire-compatible with the DecisionRules Jobs API.",
        lifespan=lifespan,
    )
    problems.install(app)
    openapi.install(app)
    app.include_router(jobs.router)
    app.include_router(rules.router)
    app.include_router(usage.router)
    app.include_router(space_items.router)
    app.include_router(webhooks.router)

    @app.get("/health", tags=["ops"], summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
