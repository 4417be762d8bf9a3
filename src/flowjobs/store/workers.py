"""The worker registry: one row per worker process (host, pid, heartbeat,
running count), for ``flowjobs workers``. Liveness of jobs never depends on
it, only on leases (store/claims.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from flowjobs.domain import WorkerInfo
from flowjobs.store.database import Database
from flowjobs.store.rows import utc
from flowjobs.store.tables import workers

# What a worker that registers again resets (its started_at stays).
_WORKER_REVIVE = ("host", "pid", "concurrency", "running", "last_heartbeat_at", "stopped_at")


class WorkerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register_worker(
        self, worker_id: str, host: str, pid: int, concurrency: int, now: datetime
    ) -> None:
        """Insert this worker's row (or revive it, if it was pruned or marked stopped)."""
        values = {
            "id": worker_id,
            "host": host,
            "pid": pid,
            "concurrency": concurrency,
            "running": 0,
            "started_at": now,
            "last_heartbeat_at": now,
            "stopped_at": None,
        }
        dialect_insert = sqlite_insert if self.db.is_sqlite else postgresql_insert
        insert = dialect_insert(workers).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=[workers.c.id],
            set_={k: insert.excluded[k] for k in _WORKER_REVIVE},
        )
        async with self.db.write() as conn:
            await conn.execute(upsert)

    async def worker_heartbeat(self, worker_id: str, running: int, now: datetime) -> bool:
        """Record that a live worker runs ``running`` jobs; False if its row is gone."""
        query = (
            workers.update()
            .where(workers.c.id == worker_id, workers.c.stopped_at.is_(None))
            .values(running=running, last_heartbeat_at=now)
        )
        async with self.db.write() as conn:
            return (await conn.execute(query)).rowcount == 1

    async def worker_stopped(self, worker_id: str, now: datetime) -> None:
        query = (
            workers.update()
            .where(workers.c.id == worker_id)
            .values(running=0, stopped_at=now, last_heartbeat_at=now)
        )
        async with self.db.write() as conn:
            await conn.execute(query)

    async def list_workers(self) -> list[WorkerInfo]:
        """Every registered worker, oldest first (``alive`` left for the manager)."""
        query = workers.select().order_by(workers.c.started_at, workers.c.id)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            WorkerInfo(
                id=r.id,
                host=r.host,
                pid=r.pid,
                concurrency=r.concurrency,
                running=r.running,
                started_at=utc(r.started_at),  # type: ignore[arg-type]
                last_heartbeat_at=utc(r.last_heartbeat_at),  # type: ignore[arg-type]
                stopped_at=utc(r.stopped_at),
            )
            for r in rows
        ]

    async def prune_workers(self, before: datetime) -> int:
        """Delete the rows of workers stopped, or silent, since before ``before``."""
        query = workers.delete().where(
            sa.or_(workers.c.stopped_at < before, workers.c.last_heartbeat_at < before)
        )
        async with self.db.write() as conn:
            return int((await conn.execute(query)).rowcount)
