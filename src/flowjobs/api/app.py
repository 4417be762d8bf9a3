"""The application factory: ``create_app(settings)``; nothing is built at import."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from flowjobs import __version__
from flowjobs.api import openapi, problems
from flowjobs.api.deps import AppState
from flowjobs.api.request_metrics import RequestMetrics
from flowjobs.api.routes import jobs, ops, rules
from flowjobs.config import Settings
from flowjobs.metrics import Metrics
from flowjobs.runtime import build_services

log = logging.getLogger("flowjobs.api")


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("job watcher stopped", exc_info=task.exception(), extra={"action": "watch"})


def create_app(settings: Settings, *, run_worker: bool | None = None) -> FastAPI:
    """The HTTP app; with ``run_worker`` (default: unless the settings disable
    it) it also runs a worker in the same process, woken in-process."""
    embedded = not settings.jobs_server_disabled if run_worker is None else run_worker
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, metrics=metrics)
        app.state.flowjobs = AppState(
            settings=settings,
            manager=services.manager,
            catalog=services.catalog,
            metrics=metrics,
            readiness=services.readiness,
        )
        watch = asyncio.create_task(services.manager.watch(), name="watch")
        watch.add_done_callback(_report_crash)
        worker = services.worker() if embedded else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.shutdown()
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)
            await services.close()

    app = FastAPI(
        title="flowjobs Jobs API",
        version=__version__,
        description="Start, cancel and follow long-running integration flows as jobs. "
        "Wire-compatible with the DecisionRules Jobs API.",
        lifespan=lifespan,
    )
    app.add_middleware(RequestMetrics, metrics=metrics)
    problems.install(app)
    openapi.install(app)
    app.include_router(jobs.router)
    app.include_router(rules.router)
    app.include_router(ops.router)
    return app
