"""Spaces, API keys and rules: what the CLI (and later the Management API) manage."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import math
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from flowjobs.clock import utcnow
from flowjobs.config import Settings
from flowjobs.decisions import validate_rule
from flowjobs.domain import (
    RULE_TYPE_COMPOSITION,
    RULE_TYPE_FLOW,
    RULE_TYPE_TABLE,
    ApiKey,
    KeyKind,
    KeyListing,
    RuleStatus,
    RuleVersion,
    Space,
)
from flowjobs.engine import Flow, called_flows, solved_rules
from flowjobs.errors import (
    AlreadyExistsError,
    FlowValidationError,
    InvalidQuotaError,
    KeyNotFoundError,
    SpaceNotFoundError,
    UnauthorizedError,
)
from flowjobs.flowsetup import compile_document
from flowjobs.keys import hash_secret, new_secret
from flowjobs.rulejson import dr_document, json_problems, metadata_problems
from flowjobs.store import SqlStore
from flowjobs.ttlcache import TtlCache

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once; only its hash is stored


class Keep(enum.Enum):
    """Leave a setting as it is (``update_space_billing``)."""

    KEEP = "keep"


def checked_quota(quota_seconds: float | None) -> float | None:
    """A monthly quota: a finite number of seconds, zero or more; None is unlimited."""
    if quota_seconds is not None and not (math.isfinite(quota_seconds) and quota_seconds >= 0):
        raise InvalidQuotaError(
            f"quotaSeconds must be a number of seconds, zero or more, not {quota_seconds}"
        )
    return quota_seconds


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:200] or "flow"


def alias_key(document: dict[str, Any]) -> str:
    """Where a document keeps its alias: DecisionRules rules as ``ruleAlias``."""
    return "alias" if document.get("type", RULE_TYPE_FLOW) == RULE_TYPE_FLOW else "ruleAlias"


def alias_of(document: dict[str, Any]) -> str:
    """The document's alias, or its name as a slug."""
    return str(document.get(alias_key(document)) or slug(str(document.get("name", ""))))


def dr_rule_problems(document: dict[str, Any]) -> list[str]:
    """A decision table's problems (each with its row and column), or a rule
    flow's shape."""
    if document.get("type") == RULE_TYPE_TABLE:
        return [str(problem) for problem in validate_rule(document)]
    if document.get("type") == RULE_TYPE_COMPOSITION and not isinstance(
        document.get("dataTree"), dict
    ):
        return ["dataTree: a rule flow needs its dataTree (an object)"]
    return []


def document_problems(
    settings: Settings,
    document: dict[str, Any],
    space_id: str | None = None,
    *,
    budgeted: bool = False,
) -> tuple[list[str], Flow | None]:
    """The problems a document has on its own, without a database (its shape,
    rule fields, a decision table's cells, the engine's checks), and its
    compiled flow when it is a flow that compiles; the calls it makes are
    checked at push."""
    problems: list[str] = json_problems(document)
    key = alias_key(document)
    alias = document.get(key)
    if alias is not None and not (isinstance(alias, str) and _ALIAS.match(alias)):
        problems.append(f"{key}: letters, digits, '_', '.', '-' only, at most 200 characters")
    if document.get("type", RULE_TYPE_FLOW) != RULE_TYPE_FLOW:
        if not isinstance(document.get("name"), str) or not document["name"].strip():
            problems.append("name: required, a non-empty string")
        return problems + (dr_rule_problems(document) if not problems else []), None
    problems += metadata_problems(document)
    try:
        flow = compile_document(settings, document, space_id, budgeted=budgeted)
    except FlowValidationError as exc:
        return problems + [p for p in exc.problems if p not in problems], None
    return problems, flow


class Catalog:
    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        # Keys by hash of their secret; voided when this process writes keys.
        self._keys = TtlCache(settings.key_cache_seconds, lambda: store.catalog_generation)

    async def create_space(
        self,
        name: str,
        *,
        parallel_limit: int = 1,
        priority: int = 0,
        quota_seconds: float | None = None,
        pay_as_you_go: bool = False,
    ) -> Space:
        space = Space(
            str(uuid.uuid4()),
            name,
            parallel_limit,
            priority,
            quota_seconds=checked_quota(quota_seconds),
            pay_as_you_go=pay_as_you_go,
        )
        try:
            await self.store.insert_space(space, utcnow())
        except AlreadyExistsError as exc:  # the store's text names the column, not the space
            raise AlreadyExistsError(f"a space named {name!r} already exists") from exc
        return space

    async def update_space_billing(
        self,
        space_ref: str,
        *,
        quota_seconds: float | Keep | None = Keep.KEEP,
        pay_as_you_go: bool | None = None,
    ) -> Space:
        """Change a space's monthly quota (None: unlimited) and/or pay-as-you-go.
        Seconds already recorded this month keep their billing."""
        space = await self.space(space_ref)
        if quota_seconds is not Keep.KEEP:
            space = replace(space, quota_seconds=checked_quota(quota_seconds))
        if pay_as_you_go is not None:
            space = replace(space, pay_as_you_go=pay_as_you_go)
        await self.store.update_space_billing(space.id, space.quota_seconds, space.pay_as_you_go)
        return space

    async def list_spaces(self) -> list[Space]:
        return await self.store.list_spaces()

    async def space(self, id_or_name: str) -> Space:
        space = await self.store.find_space(id_or_name)
        if space is None:
            raise SpaceNotFoundError(f"No space with id or name {id_or_name!r}")
        return space

    async def create_key(self, space_ref: str, kind: KeyKind, name: str | None) -> CreatedKey:
        space = await self.space(space_ref)
        key = ApiKey(str(uuid.uuid4()), space.id, name or f"{kind.value} key", kind)
        secret = new_secret(kind)
        await self.store.insert_key(key, hash_secret(secret), utcnow())
        return CreatedKey(key, secret)

    async def list_keys(self, space_ref: str) -> list[KeyListing]:
        return await self.store.list_keys((await self.space(space_ref)).id)

    async def revoke_key(self, key_id: str) -> None:
        """Revoke a key for good (again: nothing changes). Servers refuse it
        from their next authentication on (see docs/security.md)."""
        if not await self.store.revoke_key(key_id, utcnow()):
            raise KeyNotFoundError(f"No API key with id {key_id!r}")

    async def authenticate(self, secret: str) -> ApiKey:
        """The key with this secret; cached for at most FLOWJOBS_KEY_CACHE_SECONDS
        (1 s), so a key revoked by another process stops working within it."""
        key_hash = hash_secret(secret)
        key: ApiKey | None = await self._keys.lookup(
            key_hash, lambda: self.store.find_key(key_hash)
        )
        if key is None:
            raise UnauthorizedError()
        return key

    async def active_key(self, key_id: str) -> ApiKey | None:
        """The key with this id, if it still exists and is not revoked."""
        return await self.store.find_key_by_id(key_id)

    async def problems(
        self, space_id: str, document: dict[str, Any], arriving: frozenset[str] = frozenset()
    ) -> list[str]:
        """Every problem of a document, as pushed into ``space_id``: its shape,
        its rule fields (tags, inputSchema, outputSchema), the engine's checks,
        calls to missing flows and call cycles. ``arriving``: aliases of rules
        imported together with it, which count as present."""
        # Pure Python over the whole document, slow when it is large: in a
        # thread, so the event loop (other requests, the embedded worker)
        # goes on meanwhile; bounded by document_budget_seconds.
        problems, flow = await asyncio.to_thread(
            document_problems, self.settings, document, space_id, budgeted=True
        )
        if flow is None:
            return problems
        name = alias_of(document)
        existing = await self.store.find_rule_versions(space_id, name)
        own = {name} | {v.base_id for v in existing}
        problems += await self._call_problems(space_id, flow, name, own, arriving)
        return problems + await self._rule_problems(space_id, flow, arriving)

    async def _rule_problems(
        self, space_id: str, flow: Flow, arriving: frozenset[str] = frozenset()
    ) -> list[str]:
        """``rule`` nodes naming no published decision table or rule flow."""
        problems = []
        for identifier, version in solved_rules(flow):
            if identifier in arriving:
                continue
            versions = await self.store.find_rule_versions(space_id, identifier)
            named = identifier + (f" version {version}" if version is not None else "")
            if not versions or versions[0].type not in (RULE_TYPE_TABLE, RULE_TYPE_COMPOSITION):
                problems.append(f"solves a missing decision table: {named}")
            elif not any(
                v.status is RuleStatus.PUBLISHED and version in (None, v.version) for v in versions
            ):
                problems.append(f"solves a decision table with no such published version: {named}")
        return problems

    async def _call_problems(
        self,
        space_id: str,
        flow: Flow,
        name: str,
        own: set[str],
        arriving: frozenset[str] = frozenset(),
    ) -> list[str]:
        """Calls to flows with no published version, and call cycles back to
        this flow (``own``: its alias and baseId)."""
        problems: list[str] = []
        stack = [(flow, [name])]
        seen: set[tuple[str, int | None]] = set()
        while stack:
            current, path = stack.pop()
            for identifier, version in called_flows(current):
                chain = " -> ".join([*path, identifier])
                if identifier in own:
                    problems.append(f"call cycle: {chain}")
                    continue
                if (identifier, version) in seen or len(path) > self.settings.max_call_depth:
                    continue
                if identifier in arriving:
                    continue  # imported together with this flow
                seen.add((identifier, version))
                target = await self._called_version(space_id, identifier, version)
                if target is None:
                    problems.append(
                        f"calls a missing flow: {chain}"
                        + (f" version {version}" if version is not None else "")
                    )
                    continue
                with contextlib.suppress(FlowValidationError):
                    called = await asyncio.to_thread(
                        compile_document, self.settings, target.document, space_id
                    )
                    stack.append((called, [*path, identifier]))
        return problems

    async def _called_version(
        self, space_id: str, identifier: str, version: int | None
    ) -> RuleVersion | None:
        """The version a call would run: only published versions can run."""
        versions = await self.store.find_rule_versions(space_id, identifier)
        published = [v for v in versions if v.status is RuleStatus.PUBLISHED]
        if version is not None:
            return next((v for v in published if v.version == version), None)
        return published[-1] if published else None

    async def validate(self, space_id: str, document: dict[str, Any]) -> None:
        """Reject a document with every problem listed."""
        problems = await self.problems(space_id, document)
        if problems:
            raise FlowValidationError(problems)

    async def push_rule(
        self, space_ref: str, document: dict[str, Any], *, publish: bool
    ) -> RuleVersion:
        """Store a flow: a new rule, a new version of a changed one, or the same
        version again when nothing changed (publishing it if asked)."""
        space = await self.space(space_ref)
        if document.get("type", RULE_TYPE_FLOW) != RULE_TYPE_FLOW:  # an exported rule
            document = dr_document(document)  # the server's fields are ours
        await self.validate(space.id, document)
        alias = alias_of(document)
        versions = await self.store.find_rule_versions(space.id, alias)
        latest = versions[-1] if versions else None
        kind = document.get("type", RULE_TYPE_FLOW)
        if latest is not None and latest.type != kind:
            raise FlowValidationError([f"type: {alias!r} is a {latest.type}, not a {kind}"])
        if latest is not None and latest.document == document:
            if publish and latest.status is not RuleStatus.PUBLISHED:
                await self.store.set_rule_status(
                    latest.base_id, latest.version, RuleStatus.PUBLISHED, utcnow()
                )
                return replace(latest, status=RuleStatus.PUBLISHED)
            return latest
        rule = RuleVersion(
            base_id=latest.base_id if latest else str(uuid.uuid4()),
            space_id=space.id,
            alias=alias,
            name=document["name"],
            description=document.get("description"),
            type=kind,
            version=latest.version + 1 if latest else 1,
            status=RuleStatus.PUBLISHED if publish else RuleStatus.PENDING,
            document=document,
        )
        await self.store.insert_rule_version(rule, utcnow(), new_rule=latest is None)
        return rule
