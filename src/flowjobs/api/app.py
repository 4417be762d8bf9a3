"""The application factories; nothing is built at import.

``create_app(settings)``: the Jobs API, with an embedded worker unless
disabled. ``create_worker_app(settings)``: what a ``flowjobs worker`` process
serves over HTTP when asked to: its metrics and health, no API.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from flowjobs import __version__
from flowjobs.api import docs_pages, fast_solve, fast_start, openapi, problems
from flowjobs.api.deps import AppState
from flowjobs.api.fast_routes import FastRoutes
from flowjobs.api.header_limit import HeaderLimit
from flowjobs.api.request_metrics import RequestMetrics
from flowjobs.api.routes import (
    jobs,
    ops,
    rule_io,
    rules,
    solver,
    space_items,
    usage,
    webhooks,
)
from flowjobs.api.url_check import UrlCheck
from flowjobs.config import Settings
from flowjobs.errors import ConfigurationError
from flowjobs.metrics import Metrics
from flowjobs.ratelimit import KeyRateLimiter
from flowjobs.runtime import build_services
from flowjobs.ui import create_ui

log = logging.getLogger("flowjobs.api")
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("job watcher stopped", exc_info=task.exception(), extra={"action": "watch"})


def start_limiter(settings: Settings) -> KeyRateLimiter | None:
    rate = settings.start_rate_per_key
    return None if rate is None else KeyRateLimiter(rate, settings.start_burst_per_key)


def _lifespan(
    settings: Settings,
    metrics: Metrics,
    *,
    run_worker: bool,
    watch: bool,
    concurrency: int | None = None,
) -> Lifespan:
    """Build the services at start-up; run a worker and the job watcher (for
    long-polls and event streams) as asked; stop them at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = build_services(settings, metrics=metrics)
        app.state.flowjobs = AppState(
            settings=settings,
            manager=services.manager,
            catalog=services.catalog,
            usage=services.usage,
            rules=services.rules,
            webhooks=services.webhooks,
            metrics=metrics,
            readiness=services.readiness,
            start_limiter=start_limiter(settings),
            solver=services.solver,
        )
        try:  # refused when a named SQL connection could reach the job store
            worker = await services.start_worker(concurrency=concurrency) if run_worker else None
        except ConfigurationError:
            await services.close()
            raise
        watcher = asyncio.create_task(services.manager.watch(), name="watch") if watch else None
        if watcher is not None:
            watcher.add_done_callback(_report_crash)
        try:
            yield
        finally:
            if worker is not None:
                await worker.shutdown()
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            await services.close()

    return lifespan


class JobsApi(FastAPI):
    """The Jobs API's app. Ordinary starts and Solver API requests are
    answered by fast routes (api/fast_start.py, api/fast_solve.py) that
    :class:`~flowjobs.api.fast_routes.FastRoutes` puts in front of the
    middleware stack; every other request goes through the stack. FastAPI's
    own OpenTelemetry, when on, wraps both."""

    fast_routes: Sequence[BaseRoute] = ()  # set by create_app
    max_header_bytes: int = 0

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if not self.fast_routes:
            return stack
        return FastRoutes(stack, self.fast_routes, self.max_header_bytes)


def _base_app(
    settings: Settings,
    metrics: Metrics,
    lifespan: Lifespan,
    description: str,
    *,
    fast_starts: bool = False,
) -> JobsApi:
    app = JobsApi(
        title="flowjobs Jobs API",
        version=__version__,
        description=description,
        lifespan=lifespan,
        docs_url=None,  # docs_pages: the same pages from installed files, not a CDN
        redoc_url=None,
    )
    if fast_starts:
        app.max_header_bytes = settings.max_header_bytes
        app.fast_routes = [*fast_solve.fast_solve_routes(), *fast_start.fast_start_routes()]
    app.add_middleware(UrlCheck)  # inside the metrics: a refused URL is counted
    app.add_middleware(RequestMetrics, metrics=metrics)
    app.add_middleware(HeaderLimit, max_bytes=settings.max_header_bytes)  # outermost: first
    problems.install(app)
    openapi.install(app)
    docs_pages.install(app)
    return app


def create_app(settings: Settings, *, run_worker: bool | None = None) -> JobsApi:
    """The HTTP app; with ``run_worker`` (default: unless the settings disable
    it) it also runs a worker in the same process, woken in-process."""
    embedded = not settings.jobs_server_disabled if run_worker is None else run_worker
    metrics = Metrics()
    app = _base_app(
        settings,
        metrics,
        _lifespan(settings, metrics, run_worker=embedded, watch=True),
        "Start, cancel and follow long-running integration flows as jobs. "
        "Wire-compatible with the DecisionRules Jobs API.",
        fast_starts=True,  # ordinary starts without FastAPI's per-request work
    )
    app.include_router(jobs.router)
    app.include_router(rules.router)
    app.include_router(solver.router)
    app.include_router(rule_io.router)
    app.include_router(usage.router)
    app.include_router(space_items.router)
    app.include_router(webhooks.router)
    app.include_router(ops.router)
    if settings.ui_enabled:
        # the dashboard reads the services once the lifespan above has built them
        app.mount("/ui", create_ui(settings, lambda: app.state.flowjobs))
    return app


def create_worker_app(settings: Settings, *, concurrency: int | None = None) -> FastAPI:
    """A worker process with an HTTP side for Prometheus and probes only."""
    metrics = Metrics()
    app = _base_app(
        settings,
        metrics,
        _lifespan(settings, metrics, run_worker=True, watch=False, concurrency=concurrency),
        "A flowjobs worker: metrics and health only.",
    )
    app.include_router(ops.router)
    return app
