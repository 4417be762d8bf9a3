"""Lease renewals on a database connection of their own, for the worker's
lease thread (worker/heartbeats.py); the manager hands one out."""

from __future__ import annotations

from flowjobs.clock import utcnow
from flowjobs.domain import Heartbeat
from flowjobs.store import SqlStore


class LeaseRenewer:
    """Renews leases through a store of its own (one connection), so that a
    thread with its own event loop can keep a worker's jobs alive while the
    main loop is busy (issue 17: a flow that held the loop past the lease
    made every job of the process end ZOMBIE_PROCESS)."""

    def __init__(self, url: str, lease_seconds: float) -> None:
        self._store = SqlStore(url, pool_size=1, max_overflow=0)
        self._lease_seconds = lease_seconds

    async def renew(self, worker_id: str, job_ids: list[str]) -> Heartbeat:
        return await self._store.heartbeat(worker_id, job_ids, utcnow(), self._lease_seconds)

    async def close(self) -> None:
        await self._store.close()
