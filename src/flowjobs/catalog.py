"""Spaces, API keys and rules: what the CLI (and later the Management API) manage."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from flowjobs.config import Settings
from flowjobs.domain import RULE_TYPE_FLOW, ApiKey, KeyKind, RuleStatus, RuleVersion, Space
from flowjobs.engine import EngineLimits, compile_flow
from flowjobs.errors import FlowValidationError, SpaceNotFoundError
from flowjobs.keys import hash_secret, new_secret
from flowjobs.manager import utcnow
from flowjobs.store import SqlStore

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once; only its hash is stored


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:200] or "flow"


class Catalog:
    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    async def create_space(self, name: str, *, parallel_limit: int = 1, priority: int = 0) -> Space:
        space = Space(str(uuid.uuid4()), name, parallel_limit, priority)
        await self.store.insert_space(space, utcnow())
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

    def validate(self, document: dict[str, Any]) -> None:
        """Reject a document with every problem listed."""
        problems = []
        alias = document.get("alias")
        if alias is not None and not (isinstance(alias, str) and _ALIAS.match(alias)):
            problems.append("alias: letters, digits, '_', '.', '-' only, at most 200 characters")
        if document.get("type", RULE_TYPE_FLOW) != RULE_TYPE_FLOW:
            if not isinstance(document.get("name"), str) or not document["name"].strip():
                problems.append("name: required, a non-empty string")
        else:
            try:
                compile_flow(
                    document,
                    handler_prefixes=self.settings.handler_prefixes,
                    limits=EngineLimits(
                        self.settings.expression_timeout_ms, self.settings.expression_max_depth
                    ),
                )
            except FlowValidationError as exc:
                problems.extend(p for p in exc.problems if p not in problems)
        if problems:
            raise FlowValidationError(problems)

    async def push_rule(
        self, space_ref: str, document: dict[str, Any], *, publish: bool
    ) -> RuleVersion:
        """Store a flow: a new rule, a new version of a changed one, or the same
        version again when nothing changed (publishing it if asked)."""
        self.validate(document)
        space = await self.space(space_ref)
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
