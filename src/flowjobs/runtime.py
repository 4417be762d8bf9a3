"""Wiring: build the store, the manager, the catalog, the rule, usage and
webhook services and a worker from the settings.

The one place (besides the CLI) that knows every part, so that the HTTP layer
can get a manager without importing the store.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.errors import ConfigurationError, StoreError
from flowjobs.events import LocalEvents
from flowjobs.manager import JobManager
from flowjobs.metrics import Metrics
from flowjobs.rules import RuleService
from flowjobs.solver import SolverService
from flowjobs.store import SqlStore, head_revision
from flowjobs.store.exposure import job_store_roles
from flowjobs.store.webhooks import WebhookStore
from flowjobs.usage import UsageService
from flowjobs.webhooks import WebhookService
from flowjobs.worker import Worker

log = logging.getLogger("flowjobs.runtime")
READY_TIMEOUT = 2.0  # seconds the readiness check waits for the database
MIB = 1024 * 1024


@dataclass
class Services:
    settings: Settings
    store: SqlStore
    manager: JobManager
    catalog: Catalog
    usage: UsageService
    rules: RuleService
    webhooks: WebhookService
    solver: SolverService

    def worker(self, *, concurrency: int | None = None, burst: bool = False) -> Worker:
        return Worker(
            self.manager,
            self.settings,
            concurrency=concurrency,
            burst=burst,
            webhooks=self.webhooks,
            solver=self.solver,
        )

    async def start_worker(self, *, concurrency: int | None = None, burst: bool = False) -> Worker:
        """A worker, started once its named SQL connections passed their
        checks (:meth:`check_sql_connections`)."""
        worker = self.worker(concurrency=concurrency, burst=burst)
        try:
            await self.check_sql_connections(worker)
        except ConfigurationError as exc:
            log.error("start-up refused: %s", exc.message, extra={"action": "refused"})
            await worker.flows.close()
            raise
        worker.start()
        return worker

    async def check_sql_connections(self, worker: Worker) -> None:
        """Before ``worker`` starts: refuse (ConfigurationError, one line) a
        named SQL connection on the job store's SQLite file, or whose
        PostgreSQL role is a superuser or can use the job store's tables."""
        if not self.settings.sql_connections:
            return
        store = await job_store_roles(self.store)
        if store is None:
            await worker.flows.check_sql(None, frozenset())
        else:
            await worker.flows.check_sql(store.cluster, store.readers)

    async def readiness(self) -> list[str]:
        """Why this process cannot serve yet: the database does not answer, or
        its schema is not the one this version needs. Empty when ready."""
        try:
            async with asyncio.timeout(READY_TIMEOUT):
                revision = await self.store.schema_revision()
        except TimeoutError:
            return [f"the database did not answer within {READY_TIMEOUT:g} s"]
        except StoreError as exc:
            return [f"the database is unreachable ({exc.message})"]
        if revision != head_revision():
            return [
                f"the database schema is at revision {revision or 'none'}; this version "
                f"needs {head_revision()} (run flowjobs init)"
            ]
        return sqlite_file_problems(self.store.sqlite_file, self.settings.ready_min_free_mb)

    async def close(self) -> None:
        await self.store.close()


def sqlite_file_problems(path: Path | None, min_free_mb: float) -> list[str]:
    """Why a SQLite database file cannot take writes: it was deleted (the
    open connections go on reading the unlinked file, so the queries above
    still answer), or its disk has less than ``min_free_mb`` free, where a
    write would soon fail with "database or disk is full". Nothing to check
    on PostgreSQL (None), whose disk is the server's."""
    if path is None:
        return []
    if not path.is_file():
        return [f"the SQLite database file {path} is missing"]
    try:
        free_mb = shutil.disk_usage(path.parent).free / MIB
    except OSError as exc:
        return [f"the free space next to {path} cannot be read ({exc.strerror})"]
    if free_mb < min_free_mb:
        return [
            f"{free_mb:.0f} MiB free on the disk of {path}, below the "
            f"{min_free_mb:g} MiB that FLOWJOBS_READY_MIN_FREE_MB asks"
        ]
    return []


def build_services(
    settings: Settings, *, pool_size: int | None = None, metrics: Metrics | None = None
) -> Services:
    store = SqlStore(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0 if pool_size else settings.db_max_overflow,
        start_batch_rows=settings.start_batch_max_rows,
    )
    catalog = Catalog(store, settings)
    events = LocalEvents()
    manager = JobManager(store, settings, events, metrics=metrics)
    return Services(
        settings=settings,
        store=store,
        manager=manager,
        catalog=catalog,
        usage=UsageService(store),
        rules=RuleService(catalog),
        webhooks=WebhookService(
            WebhookStore(store), settings, jobs=manager, wake=events.notify_webhook
        ),
        solver=SolverService(store, cache_seconds=settings.catalog_cache_seconds),
    )


async def check_sql_connections(settings: Settings) -> None:
    """A worker's start-up check of its named SQL connections, on its own
    (the CLI runs it before serving); ConfigurationError when one is refused."""
    if not settings.sql_connections:
        return
    services = build_services(settings, pool_size=1)
    worker = services.worker()
    try:
        await services.check_sql_connections(worker)
    finally:
        await worker.flows.close()
        await services.close()
