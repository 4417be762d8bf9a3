"""WorkerRegistry: a row per worker process (host, pid, heartbeat, running
count) for ``flowjobs workers``. Liveness of jobs never depends on it, only on
their leases; the manager holds one (``JobManager.workers``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flowjobs.clock import utcnow
from flowjobs.config import Settings
from flowjobs.domain import WorkerInfo
from flowjobs.store import SqlStore


class WorkerRegistry:
    ROWS_KEPT = timedelta(days=1)  # rows of stopped or silent workers

    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def register(self, worker_id: str, host: str, pid: int, concurrency: int) -> None:
        await self.store.register_worker(worker_id, host, pid, concurrency, utcnow())

    async def heartbeat(self, worker_id: str, running: int) -> bool:
        """Renew a worker's row; False if the row is gone (register again)."""
        return await self.store.worker_heartbeat(worker_id, running, utcnow())

    async def stopped(self, worker_id: str) -> None:
        await self.store.worker_stopped(worker_id, utcnow())

    async def list_workers(self, *, include_dead: bool = False) -> list[WorkerInfo]:
        """Registered workers with ``alive`` set: not stopped, and a heartbeat
        within three heartbeat intervals. Only live ones unless ``include_dead``."""
        silent_since = utcnow() - timedelta(seconds=3 * self.settings.heartbeat_interval)
        found = [
            replace(w, alive=w.stopped_at is None and w.last_heartbeat_at >= silent_since)
            for w in await self.store.list_workers()
        ]
        return found if include_dead else [w for w in found if w.alive]

    async def prune(self) -> int:
        """Forget workers stopped, or silent, for more than a day."""
        return await self.store.prune_workers(utcnow() - self.ROWS_KEPT)
