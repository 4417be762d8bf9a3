"""An in-process flowjobs over a real database: store, catalog and manager."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flowjobs import domain
from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import (
    ApiKey,
    JobEnding,
    JobState,
    KeyKind,
    RuleVersion,
    Space,
    Status,
    output_array,
)
from flowjobs.manager import JobManager
from flowjobs.store import SqlStore


def flow(alias: str, seconds: float = 0) -> dict[str, Any]:
    return {
        "name": alias,
        "alias": alias,
        "nodes": [
            {"id": "nap", "type": "wait", "seconds": seconds},
            {"id": "done", "type": "end", "output": "input"},
        ],
    }


@dataclass
class Env:
    settings: Settings
    store: SqlStore
    catalog: Catalog
    manager: JobManager

    async def space_with_key(
        self, name: str, *, parallel_limit: int = 100, priority: int = 0
    ) -> tuple[Space, ApiKey]:
        space = await self.catalog.create_space(
            name, parallel_limit=parallel_limit, priority=priority
        )
        created = await self.catalog.create_key(space.id, KeyKind.SOLVER, "test")
        return space, created.key

    async def push(self, space: Space, document: dict[str, Any]) -> RuleVersion:
        return await self.catalog.push_rule(space.id, document, publish=True)

    # A worker's job ends, written as the worker writes them: one ending each
    # through ``JobManager.end_jobs`` (what its ending batcher calls). Each
    # answers the state the job ended in, None when the worker no longer held it.

    async def complete(self, job_id: str, worker_id: str, output: Any) -> JobState | None:
        """The flow returned ``output`` (a job found CANCELING ends CANCELED)."""
        status = domain.COMPLETED
        return await self._end(JobEnding(job_id, worker_id, status, output=output_array(output)))

    async def fail(
        self, job_id: str, worker_id: str, status: Status, error: dict[str, Any]
    ) -> JobState | None:
        """The flow failed with ``status`` (a job found CANCELING ends CANCELED)."""
        return await self._end(JobEnding(job_id, worker_id, status, error=error))

    async def stopped(self, job_id: str, worker_id: str) -> JobState | None:
        """The worker stopped a CANCELING job: it ends CANCELED."""
        return await self._end(JobEnding(job_id, worker_id, None))

    async def _end(self, ending: JobEnding) -> JobState | None:
        [state] = await self.manager.end_jobs([ending])
        return state


MakeEnv = Callable[..., Awaitable[Env]]
