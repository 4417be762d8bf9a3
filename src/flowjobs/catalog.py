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

from flowjobs.config import Settings
from flowjobs.domain import (
    RULE_TYPE_FLOW,
    ApiKey,
    KeyKind,
    KeyListing,
    RuleStatus,
    RuleVersion,
    Space,
)
from flowjobs.engine import Flow, called_flows
from flowjobs.errors import (
    FlowValidationError,
    InvalidQuotaError,
    KeyNotFoundError,
    SpaceNotFoundError,
)
from flowjobs.flowsetup import compile_document
from flowjobs.keys import hash_secret, new_secret
from flowjobs.manager import utcnow
from flowjobs.rulejson import json_problems, metadata_problems
from flowjobs.store import SqlStore

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


class Catalog:
    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

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
        await self.store.insert_space(space, utcnow())
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

    async def problems(self, space_id: str, document: dict[str, Any]) -> list[str]:
        """Every problem of a document, as pushed into ``space_id``: its shape,
        its rule fields (tags, inputSchema, outputSchema), the engine's checks,
        calls to missing flows and call cycles."""
        # Pure Python over the whole document, slow when it is large: in a
        # thread, so the event loop (other requests, the embedded worker)
        # goes on meanwhile; bounded by document_budget_seconds.
        problems, flow = await asyncio.to_thread(self._document_problems, document)
        if flow is None:
            return problems
        alias = document.get("alias")
        name = alias or slug(str(document.get("name", "")))
        existing = await self.store.find_rule_versions(space_id, name)
        own = {name} | {v.base_id for v in existing}
        return problems + await self._call_problems(space_id, flow, name, own)

    def _document_problems(self, document: dict[str, Any]) -> tuple[list[str], Flow | None]:
        """The problems found without the database, and the compiled flow
        (None: not a flow, or not a valid one)."""
        problems: list[str] = json_problems(document)
        alias = document.get("alias")
        if alias is not None and not (isinstance(alias, str) and _ALIAS.match(alias)):
            problems.append("alias: letters, digits, '_', '.', '-' only, at most 200 characters")
        if document.get("type", RULE_TYPE_FLOW) != RULE_TYPE_FLOW:
            if not isinstance(document.get("name"), str) or not document["name"].strip():
                problems.append("name: required, a non-empty string")
            return problems, None
        problems += metadata_problems(document)
        try:
            flow = compile_document(self.settings, document, budgeted=True)
        except FlowValidationError as exc:
            return problems + [p for p in exc.problems if p not in problems], None
        return problems, flow

    async def _call_problems(
        self, space_id: str, flow: Flow, name: str, own: set[str]
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
                        compile_document, self.settings, target.document
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
        await self.validate(space.id, document)
        alias = document.get("alias") or slug(document["name"])
        versions = await self.store.find_rule_versions(space.id, alias)
        latest = versions[-1] if versions else None
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
            type=document.get("type", RULE_TYPE_FLOW),
            version=latest.version + 1 if latest else 1,
            status=RuleStatus.PUBLISHED if publish else RuleStatus.PENDING,
            document=document,
        )
        await self.store.insert_rule_version(rule, utcnow(), new_rule=latest is None)
        return rule
