"""An in-process flowjobs over a real database: store, catalog and manager."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import ApiKey, KeyKind, RuleVersion, Space
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


MakeEnv = Callable[..., Awaitable[Env]]
