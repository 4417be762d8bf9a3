"""Spaces, API keys and rules: the catalog's rows.

Every write here bumps :attr:`CatalogStore.generation`, which tells the
manager's and the solver's short-lived caches of those rows that this
process changed them.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from flowjobs.domain import ApiKey, KeyKind, KeyListing, RuleStatus, RuleVersion, Space
from flowjobs.store import rules as rule_sql
from flowjobs.store.database import Database
from flowjobs.store.rows import space_from_row, utc
from flowjobs.store.tables import api_keys, rule_versions, rules, spaces

_Method = TypeVar("_Method", bound=Callable[..., Awaitable[Any]])


def _changes_catalog(method: _Method) -> _Method:
    """Mark a method that writes spaces, keys or rules: it bumps
    :attr:`CatalogStore.generation`."""

    @functools.wraps(method)
    async def wrapper(self: CatalogStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.generation += 1

    return wrapper  # type: ignore[return-value]


def _key_from_row(row: Any) -> ApiKey:
    return ApiKey(row.id, row.space_id, row.name, KeyKind(row.kind))


class CatalogStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.generation = 0  # bumped by every write of spaces, keys or rules

    # ---- spaces -------------------------------------------------------------

    @_changes_catalog
    async def insert_space(self, space: Space, now: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                spaces.insert().values(
                    id=space.id,
                    name=space.name,
                    parallel_limit=space.parallel_limit,
                    priority=space.priority,
                    created_at=now,
                    quota_seconds=space.quota_seconds,
                    pay_as_you_go=space.pay_as_you_go,
                )
            )

    async def find_space(self, id_or_name: str) -> Space | None:
        query = spaces.select().where(
            sa.or_(spaces.c.id == id_or_name, spaces.c.name == id_or_name)
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else space_from_row(row)

    async def list_spaces(self) -> list[Space]:
        """Every space, by name."""
        async with self.db.read() as conn:
            rows = (await conn.execute(spaces.select().order_by(spaces.c.name))).all()
        return [space_from_row(row) for row in rows]

    @_changes_catalog
    async def update_space_billing(
        self, space_id: str, quota_seconds: float | None, pay_as_you_go: bool
    ) -> None:
        """Set a space's monthly quota (None: unlimited) and pay-as-you-go."""
        async with self.db.write() as conn:
            await conn.execute(
                spaces.update()
                .where(spaces.c.id == space_id)
                .values(quota_seconds=quota_seconds, pay_as_you_go=pay_as_you_go)
            )

    # ---- keys ---------------------------------------------------------------

    @_changes_catalog
    async def insert_key(self, key: ApiKey, key_hash: str, now: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    space_id=key.space_id,
                    name=key.name,
                    kind=key.kind.value,
                    key_hash=key_hash,
                    created_at=now,
                )
            )

    async def find_key(self, key_hash: str) -> ApiKey | None:
        query = api_keys.select().where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _key_from_row(row)

    async def find_key_by_id(self, key_id: str) -> ApiKey | None:
        """A key that exists and is not revoked, by its id (dashboard sessions)."""
        query = api_keys.select().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _key_from_row(row)

    async def list_keys(self, space_id: str) -> list[KeyListing]:
        query = api_keys.select().where(api_keys.c.space_id == space_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(query.order_by(api_keys.c.created_at))).all()
        return [
            KeyListing(_key_from_row(r), utc(r.created_at) or r.created_at, utc(r.revoked_at))
            for r in rows
        ]

    @_changes_catalog
    async def revoke_key(self, key_id: str, now: datetime) -> bool:
        """Set the key's ``revoked_at`` unless it is revoked already; False
        when no key has that id. A revoked key stays listed, never reused."""
        async with self.db.write() as conn:
            found = (
                await conn.execute(sa.select(api_keys.c.id).where(api_keys.c.id == key_id))
            ).first()
            await conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return found is not None

    # ---- rules --------------------------------------------------------------

    async def find_rule_versions(self, space_id: str, identifier: str) -> list[RuleVersion]:
        """All versions of the rule whose baseId or alias is ``identifier``, oldest first."""
        query = rule_sql.versions_query().where(
            rules.c.space_id == space_id,
            sa.or_(rules.c.base_id == identifier, rules.c.alias == identifier),
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [rule_sql.version_from_row(r) for r in rows]

    async def list_rule_versions(self, space_id: str) -> list[RuleVersion]:
        """Every version of every rule of the space, by alias then version."""
        query = rule_sql.versions_query().where(rules.c.space_id == space_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [rule_sql.version_from_row(r) for r in rows]

    @_changes_catalog
    async def insert_rule_version(
        self, rule: RuleVersion, now: datetime, *, new_rule: bool
    ) -> None:
        async with self.db.write() as conn:
            if new_rule:
                await rule_sql.insert_rule(conn, rule, now)
            else:
                await rule_sql.rename_rule(conn, rule, now)
            await rule_sql.insert_version_row(conn, rule, rule.version, now)

    @_changes_catalog
    async def set_rule_status(
        self, base_id: str, version: int, status: RuleStatus, now: datetime
    ) -> bool:
        """False if the version does not exist."""
        async with self.db.write() as conn:
            result = await conn.execute(
                rule_versions.update()
                .where(rule_versions.c.base_id == base_id, rule_versions.c.version == version)
                .values(status=status.value, updated_at=now)
            )
        return result.rowcount == 1

    @_changes_catalog
    async def insert_next_version(self, rule: RuleVersion, now: datetime) -> int | None:
        """Store ``rule`` as its rule's next version; its number, or None if the
        rule no longer exists. Concurrent calls get distinct numbers."""
        async with self.db.write() as conn:
            return await rule_sql.insert_next_version(conn, rule, now, lock=not self.db.is_sqlite)

    @_changes_catalog
    async def update_rule_version(self, rule: RuleVersion, now: datetime, *, latest: bool) -> bool:
        """Replace a version's document and status; False if it does not exist."""
        async with self.db.write() as conn:
            return await rule_sql.update_version(
                conn, rule, now, latest=latest, lock=not self.db.is_sqlite
            )

    @_changes_catalog
    async def delete_rule_versions(self, base_id: str, versions: list[int]) -> tuple[int, int]:
        """Delete versions (and the rule with its last one) in one transaction,
        unless jobs still need them: (jobs waiting or running, versions deleted)."""
        async with self.db.write() as conn:
            return await rule_sql.delete_versions(
                conn, base_id, versions, lock=not self.db.is_sqlite
            )
