"""Compiled flows for the worker: a cache per rule version (a version's
document never changes), the ``call`` resolver of a space, the ``rule``
solver of a space (decision tables, compiled once per version by the
SolverService the runtime hands in: the Solver API's own), and the services a flow may use (REST
policy, named SQL connections)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from flowjobs.config import Settings
from flowjobs.domain import RuleVersion
from flowjobs.engine import (
    EngineServices,
    Flow,
    FlowResolver,
    RestPolicy,
    RuleSolver,
    SqlConnections,
)
from flowjobs.engine.pg_guard import JobStoreRoles
from flowjobs.engine.sql import NamedConnection
from flowjobs.errors import FlowExecutionError, FlowjobsError
from flowjobs.flowsetup import compile_document
from flowjobs.manager import JobManager
from flowjobs.solver import SolverService

log = logging.getLogger("flowjobs.worker")


class FlowLoader:
    def __init__(
        self, manager: JobManager, settings: Settings, solver: SolverService | None = None
    ) -> None:
        self.manager = manager
        self.settings = settings
        self.sql = SqlConnections(
            {
                name: NamedConnection(c.url, frozenset(c.spaces))
                for name, c in settings.sql_connections.items()
            },
            pool_size=settings.sql_pool_size,
            store_files=job_store_files(settings.database_url),
        )
        self.rest = RestPolicy(allow=tuple(settings.rest_allow))
        self._cache: dict[tuple[str, int], Flow] = {}
        # The runtime hands in the Solver API's own service, so the API and an
        # embedded worker compile each table version once between them.
        self.solver = solver or SolverService(
            manager.store, cache_seconds=settings.catalog_cache_seconds
        )

    async def compile(self, base_id: str, version: int, document: dict[str, Any]) -> Flow:
        """The compiled flow of one rule version; raises FlowValidationError.
        A version not in the cache is compiled in a thread: parsing a large
        flow's expressions takes seconds, which the event loop (the other
        jobs, the API) must not wait for."""
        key = (base_id, version)
        flow = self._cache.get(key)
        if flow is None:
            flow = await asyncio.to_thread(compile_document, self.settings, document)
            if len(self._cache) > 1000:
                self._cache.clear()
            self._cache[key] = flow
        return flow

    def services(self, space_id: str) -> EngineServices:
        """What a job of ``space_id`` may use: only the SQL connections open to its space."""
        return EngineServices(
            rest=self.rest,
            sql=self.sql.for_space(space_id),
            resolve_flow=self._resolver(space_id),
            solve_rule=self._rule_solver(space_id),
        )

    def _rule_solver(self, space_id: str) -> RuleSolver:
        async def solve(identifier: str, version: int | None, data: Any, strategy: str) -> Any:
            return await self.solver.solve(space_id, identifier, version, data, strategy=strategy)

        return solve

    async def check_sql(self, store_cluster: str | None, store_readers: frozenset[str]) -> None:
        """Refuse, before any job runs, named SQL connections that could reach
        the job store (ConfigurationError); log the other warnings.
        ``store_cluster``: the job store's PostgreSQL server (None on SQLite);
        ``store_readers``: the roles with rights on its tables."""
        store = None if store_cluster is None else JobStoreRoles(store_cluster, store_readers)
        for warning in await self.sql.check(store):
            log.warning(warning, extra={"action": "sql_connection_check"})

    def _resolver(self, space_id: str) -> FlowResolver:
        async def resolve(identifier: str, version: int | None) -> Flow:
            try:
                rule: RuleVersion = await self.manager.flow_for_call(space_id, identifier, version)
            except FlowjobsError as exc:
                raise FlowExecutionError(
                    f"call: {exc.message}", error_type="CallTargetNotFound"
                ) from exc
            return await self.compile(rule.base_id, rule.version, rule.document)

        return resolve

    async def close(self) -> None:
        await self.sql.close()


def job_store_files(database_url: str) -> tuple[Path, ...]:
    """The job store's SQLite file (none for PostgreSQL or in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return ()
    return (Path(url.database),)
