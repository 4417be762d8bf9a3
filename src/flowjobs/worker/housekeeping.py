"""A worker's registry row and its hourly housekeeping, beside its jobs.

``flowjobs workers`` reads the registry rows; the housekeeping forgets
long-gone workers and, with a retention set, deletes old finished jobs. Both
run as loops of their own, apart from the reap loop, so that a long prune
never delays the reaping of expired leases."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from datetime import timedelta

from flowjobs.config import Settings
from flowjobs.errors import StoreError
from flowjobs.manager import JobManager

log = logging.getLogger("flowjobs.worker")

HOUSEKEEPING_INTERVAL = 3600.0  # seconds between prunes of one worker


class Housekeeping:
    def __init__(
        self,
        manager: JobManager,
        settings: Settings,
        worker_id: str,
        concurrency: int,
        running: Callable[[], int],
    ) -> None:
        self.manager = manager
        self.settings = settings
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.running = running  # how many jobs the worker runs now

    async def registry_loop(self) -> None:
        """Register this worker, then renew its registry row every heartbeat
        interval, idle or not."""
        registered = False
        while True:
            try:
                registered = await self._registry_beat(registered)
            except StoreError:
                log.exception("registry failed", extra=self._fields("registry"))
            await asyncio.sleep(self.settings.heartbeat_interval)

    async def _registry_beat(self, registered: bool) -> bool:
        workers = self.manager.workers
        if registered and await workers.heartbeat(self.worker_id, self.running()):
            return True
        # First beat, or the row was pruned meanwhile (say, after a long outage).
        await workers.register(self.worker_id, socket.gethostname(), os.getpid(), self.concurrency)
        return True

    async def mark_stopped(self) -> None:
        try:
            await self.manager.workers.stopped(self.worker_id)
        except StoreError:
            log.exception("registry failed", extra=self._fields("registry"))

    async def housekeeping_loop(self) -> None:
        """Once an hour: forget long-gone workers and prune old finished jobs."""
        while True:
            try:
                await self._housekeeping()
            except StoreError:
                log.exception("housekeeping failed", extra=self._fields("prune"))
            await asyncio.sleep(HOUSEKEEPING_INTERVAL)

    async def _housekeeping(self) -> None:
        forgotten = await self.manager.workers.prune()
        days = self.settings.retention_days
        pruned = 0 if days is None else await self.manager.prune(timedelta(days=days))
        if forgotten or pruned:
            log.info(
                "pruned", extra={**self._fields("prune"), "jobs": pruned, "workers": forgotten}
            )

    def _fields(self, action: str) -> dict[str, str]:
        return {"action": action, "worker": self.worker_id}
