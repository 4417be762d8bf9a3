"""The Solver API's work: find the rule version a request names, compile it
once (per process, per version), preload the rules it solves through SOLVE
or a rule flow, and solve one input or a bulk of them.

Big bulks are solved in a worker thread, so a request of 10,000 inputs does
not hold the event loop (and the other spaces' requests) for its duration.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flowjobs.decisions import SolveContext, SolveDepthError, SolveOptions, normalise_strategy
from flowjobs.domain import (
    RULE_TYPE_COMPOSITION,
    RULE_TYPE_TABLE,
    ApiKey,
    RuleStatus,
    RuleVersion,
)
from flowjobs.errors import (
    AuditNotFoundError,
    FlowjobsError,
    RuleNotFoundError,
    RuleNotPublishedError,
    RuleVersionNotFoundError,
)
from flowjobs.solver.audit import AuditRequest
from flowjobs.solver.compiled import CompiledRules, Prepared, RuleKey, Solvable, prepare
from flowjobs.store import SqlStore
from flowjobs.store.audits import SolveAudit
from flowjobs.ttlcache import TtlCache
from flowjobs.versions import parse_version

THREAD_BULK = 64  # inputs from which a bulk is solved in a worker thread
MAX_DEPTH = 8  # rules solving rules (SOLVE, rule flows), as deep as this
AUDIT_PRUNE_INTERVAL = 3600.0  # seconds between this process's prunes of expired audits
MAX_SPACE_RULES = 2000  # published versions loaded for SOLVE calls that name rules by value
SOLVABLE = frozenset({RULE_TYPE_TABLE, RULE_TYPE_COMPOSITION})


@dataclass(frozen=True)
class Loaded:
    """A rule to solve, with every rule it may solve, compiled."""

    rule: RuleVersion
    compiled: Solvable
    called: dict[RuleKey, Solvable]


def pick_solvable(versions: list[RuleVersion], version: int | None) -> RuleVersion:
    """The version the Solver API solves: the highest published one, or the
    one named, which must be published too (as DecisionRules answers)."""
    if version is None:
        published = [v for v in versions if v.status is RuleStatus.PUBLISHED]
        if not published:
            raise RuleNotPublishedError()
        return published[-1]
    for candidate in versions:
        if candidate.version == version:
            if candidate.status is not RuleStatus.PUBLISHED:
                raise RuleNotPublishedError()
            return candidate
    raise RuleVersionNotFoundError(f"Version {version} of the rule does not exist")


def version_number(spec: str | None) -> int | None:
    """A path's version: a number, or none (empty or ``latest``) for the latest."""
    if spec is None or spec in ("", "latest"):
        return None
    return parse_version(spec)


class SolverService:
    def __init__(
        self, store: SqlStore, *, cache_seconds: float = 1.0, capacity: int = 1024
    ) -> None:
        self.store = store
        self.compiled = CompiledRules(capacity)
        self._versions = TtlCache(cache_seconds, lambda: store.catalog_generation)
        self._audits_pruned = 0.0  # time.monotonic() of the last prune; 0: never

    async def solve(
        self,
        space_id: str,
        identifier: str,
        version: int | None,
        data: Any,
        *,
        strategy: str | None = None,
        options: SolveOptions | None = None,
    ) -> Any:
        """One input's result, or a list of results for a list of inputs."""
        loaded = await self.load(space_id, identifier, version)
        chosen = normalise_strategy(strategy)
        if isinstance(data, list) and len(data) >= THREAD_BULK:
            return await asyncio.to_thread(solve_bulk, loaded, data, chosen, options)
        if isinstance(data, list):
            return solve_bulk(loaded, data, chosen, options)
        return solve_one(loaded, data, chosen, options)

    async def record_audit(
        self,
        key: ApiKey,
        identifier: str,
        version: int | None,
        body: Any,
        result: Any,
        audit: AuditRequest,
    ) -> str:
        """Keep the request and result of a solve for ``audit.ttl_days``; its id."""
        rule = await self.find(key.space_id, identifier, version)
        now = datetime.now(UTC)
        record = SolveAudit(
            id=str(uuid.uuid4()),
            space_id=key.space_id,
            base_id=rule.base_id,
            version=rule.version,
            correlation_id=audit.correlation_id,
            request=body,
            response=result,
            created_at=now,
            expires_at=now + timedelta(days=audit.ttl_days),
        )
        await self.store.insert_audit(record)
        await self._prune_audits(now)
        return record.id

    async def _prune_audits(self, now: datetime) -> None:
        """Expired audits go at most hourly from a process that records audits,
        whether or not job retention (the worker's prune) is configured."""
        if time.monotonic() - self._audits_pruned < AUDIT_PRUNE_INTERVAL and self._audits_pruned:
            return
        self._audits_pruned = time.monotonic()
        await self.store.prune_audits(now)

    async def audit(self, space_id: str, audit_id: str) -> SolveAudit:
        found = await self.store.get_audit(audit_id[:36], space_id, datetime.now(UTC))
        if found is None:
            raise AuditNotFoundError(f"No audit with id {audit_id[:40]!r} in this space")
        return found

    async def load(self, space_id: str, identifier: str, version: int | None) -> Loaded:
        rule = await self.find(space_id, identifier, version)
        prepared = await self._prepared(rule)
        return Loaded(rule, prepared.compiled, await self._called(space_id, rule, prepared))

    async def _prepared(self, rule: RuleVersion) -> Prepared:
        """The version's prepared form; compiled in a worker thread the first
        time, so that a big table does not hold the event loop."""
        found = self.compiled.lookup(rule)
        if found is None:
            found = await asyncio.to_thread(prepare, rule)
            self.compiled.put(rule, found)
        return found

    async def find(self, space_id: str, identifier: str, version: int | None) -> RuleVersion:
        versions: list[RuleVersion] = await self._versions.lookup(
            (space_id, identifier), lambda: self.store.find_rule_versions(space_id, identifier)
        )
        if not versions:
            raise RuleNotFoundError(f"No rule with id or alias {identifier[:100]!r} in this space")
        return pick_solvable(versions, version)

    async def _called(
        self, space_id: str, root: RuleVersion, prepared: Prepared
    ) -> dict[RuleKey, Solvable]:
        """The rules of the space that ``root`` may solve. A table whose SOLVE
        calls name their rule by a value (``SOLVE({data}, ...)``) may solve
        any published rule of the space: all are loaded. Otherwise the rules
        named by literal ids, and theirs, down to MAX_DEPTH."""
        if prepared.solves_by_value:
            whole = await self._whole_space(space_id)
            if whole is not None:
                return whole
        return await self._named(space_id, prepared)

    async def _named(self, space_id: str, root: Prepared) -> dict[RuleKey, Solvable]:
        """Rules named by literal ids. One that cannot be found is left out:
        solving it raises then, with its name, only if the input reaches it."""
        called: dict[RuleKey, Solvable] = {}
        frontier = set(root.references)
        if not frontier:
            return called
        for _ in range(MAX_DEPTH):
            following: set[RuleKey] = set()
            for key in frontier - called.keys():
                try:
                    named = await self._prepared(await self.find(space_id, *key))
                except FlowjobsError:
                    continue
                called[key] = named.compiled
                following |= named.references
            frontier = following
            if not frontier:
                break
        return called

    async def _whole_space(self, space_id: str) -> dict[RuleKey, Solvable] | None:
        """Every published decision table and rule flow of the space, by id and
        alias, with and without version; None past MAX_SPACE_RULES versions."""
        versions: list[RuleVersion] = await self._versions.lookup(
            ("all", space_id), lambda: self.store.list_rule_versions(space_id)
        )
        published = [v for v in versions if v.status is RuleStatus.PUBLISHED and v.type in SOLVABLE]
        if len(published) > MAX_SPACE_RULES:
            return None
        called: dict[RuleKey, Solvable] = {}
        for rule in published:  # oldest first: the latest published one stays for None
            try:
                compiled = (await self._prepared(rule)).compiled
            except FlowjobsError:
                continue
            for name in (rule.base_id, rule.alias):
                called[(name, rule.version)] = compiled
                called[(name, None)] = compiled
        return called


def context_for(called: dict[RuleKey, Solvable], depth: int = 0) -> SolveContext:
    """A SolveContext whose SOLVE solves the preloaded rules, one level deeper."""

    def solve_rule(identifier: str, version: int | None, data: Any, strategy: str) -> Any:
        if depth + 1 > MAX_DEPTH:
            raise SolveDepthError(f"rules solve rules more than {MAX_DEPTH} deep")
        target = called.get((identifier, version))
        if target is None:  # not a SolveError: SOLVE answers {} for a rule it cannot find
            named = f"{identifier!r}" + (f" version {version}" if version is not None else "")
            raise RuleNotFoundError(f"SOLVE: no published rule {named} in this space")
        return target.solve(
            data, strategy=normalise_strategy(strategy), context=context_for(called, depth + 1)
        )

    return SolveContext(solve_rule=solve_rule, depth=depth, max_depth=MAX_DEPTH)


def solve_one(loaded: Loaded, data: Any, strategy: str, options: SolveOptions | None) -> Any:
    return loaded.compiled.solve(
        data, strategy=strategy, options=options, context=context_for(loaded.called)
    )


def solve_bulk(
    loaded: Loaded, inputs: list[Any], strategy: str, options: SolveOptions | None
) -> list[Any]:
    """One result per input, in order (DecisionRules' bulk solve)."""
    context = context_for(loaded.called)
    solve: Callable[..., Any] = loaded.compiled.solve
    return [solve(data, strategy=strategy, options=options, context=context) for data in inputs]
