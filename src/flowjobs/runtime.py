"""Wiring: build the store, the manager, the webhook service and a worker
from the settings.

The one place (besides the CLI) that knows every part, so that the HTTP layer
can get a manager without importing the store.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.manager import JobManager, LocalEvents
from flowjobs.rules import RuleService
from flowjobs.store import SqlStore
from flowjobs.store.webhooks import WebhookStore
from flowjobs.usage import UsageService
from flowjobs.webhooks import WebhookService
from flowjobs.worker import Worker


@dataclass
class Services:
    settings: Settings
    store: SqlStore
    manager: JobManager
    catalog: Catalog
    usage: UsageService
    rules: RuleService
    webhooks: WebhookService

    def worker(self, *, concurrency: int | None = None, burst: bool = False) -> Worker:
        return Worker(
            self.manager,
            self.settings,
            concurrency=concurrency,
            burst=burst,
            webhooks=self.webhooks,
        )

    async def close(self) -> None:
        await self.store.close()


def build_services(settings: Settings, *, pool_size: int | None = None) -> Services:
    store = SqlStore(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=0 if pool_size else settings.db_max_overflow,
    )
    catalog = Catalog(store, settings)
    events = LocalEvents()
    return Services(
        settings=settings,
        store=store,
        manager=JobManager(store, settings, events),
        catalog=catalog,
        usage=UsageService(store),
        rules=RuleService(catalog),
        webhooks=WebhookService(WebhookStore(store), settings, wake=events.notify_webhook),
    )
