"""Wiring: build the store, the manager, the catalog, the rule, usage and
webhook services and a worker from the settings.

The one place (besides the CLI) that knows every part, so that the HTTP layer
can get a manager without importing the store.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.errors import StoreError
from flowjobs.manager import JobManager, LocalEvents
from flowjobs.metrics import Metrics
from flowjobs.rules import RuleService
from flowjobs.solver import SolverService
from flowjobs.store import SqlStore, head_revision
from flowjobs.store.webhooks import WebhookStore
from flowjobs.usage import UsageService
from flowjobs.webhooks import WebhookService
from flowjobs.worker import Worker

READY_TIMEOUT = 2.0  # seconds the readiness check waits for the database


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
        )

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
        return []

    async def close(self) -> None:
        await self.store.close()


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
    return Services(
        settings=settings,
        store=store,
        manager=JobManager(store, settings, events, metrics=metrics),
        catalog=catalog,
        usage=UsageService(store),
        rules=RuleService(catalog),
        webhooks=WebhookService(WebhookStore(store), settings, wake=events.notify_webhook),
        solver=SolverService(store, cache_seconds=settings.catalog_cache_seconds),
    )
