"""Compiled flows for the worker: a cache per rule version (a version's
document never changes), the ``call`` resolver of a space, and the services
a flow may use (REST policy, named SQL connections)."""

from __future__ import annotations

import asyncio
from typing import Any

from flowjobs.config import Settings
from flowjobs.domain import RuleVersion
from flowjobs.engine import EngineServices, Flow, FlowResolver, RestPolicy, SqlConnections
from flowjobs.errors import FlowExecutionError, FlowjobsError
from flowjobs.flowsetup import compile_document
from flowjobs.manager import JobManager


class FlowLoader:
    def __init__(self, manager: JobManager, settings: Settings) -> None:
        self.manager = manager
        self.settings = settings
        self.sql = SqlConnections(settings.sql_connections, pool_size=settings.sql_pool_size)
        self.rest = RestPolicy(allow=tuple(settings.rest_allow))
        self._cache: dict[tuple[str, int], Flow] = {}

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
        return EngineServices(rest=self.rest, sql=self.sql, resolve_flow=self._resolver(space_id))

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
