"""SQL for rules and their versions that takes an open connection, used by
:class:`flowjobs.store.catalog.CatalogStore` (and a start, which checks its
version) inside their transactions.

Locks on PostgreSQL (``lock=True``): a new version, an update and a delete
lock the rule's row ``FOR UPDATE`` first (always the rule, then its versions:
no deadlock between them); a delete then locks its versions' rows
``FOR UPDATE``. A job start takes ``FOR KEY SHARE`` on its version's row
before it inserts the job. So a delete either sees the job (and refuses) or
the start finds the version gone: no job is ever left pointing at a deleted
version. On SQLite, ``BEGIN IMMEDIATE`` already serialises these transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import JobState, RuleStatus, RuleVersion
from flowjobs.errors import RuleVersionNotFoundError
from flowjobs.store.rows import utc
from flowjobs.store.tables import jobs, rule_versions, rules

# Jobs that still need their version: queued, running, or being canceled.
IN_USE_STATES = [JobState.WAITING.value, JobState.RUNNING.value, JobState.CANCELING.value]


def versions_query() -> sa.Select[Any]:
    """Rules joined with their versions, oldest version first."""
    return (
        sa.select(
            rules.c.base_id,
            rules.c.space_id,
            rules.c.alias,
            rules.c.name,
            rules.c.description,
            rules.c.type,
            rule_versions.c.version,
            rule_versions.c.status,
            rule_versions.c.document,
            rule_versions.c.created_at.label("version_created_at"),
            rule_versions.c.updated_at.label("version_updated_at"),
        )
        .join(rule_versions, rule_versions.c.base_id == rules.c.base_id)
        .order_by(rules.c.alias, rule_versions.c.version)
    )


def version_from_row(row: Row[Any]) -> RuleVersion:
    return RuleVersion(
        base_id=row.base_id,
        space_id=row.space_id,
        alias=row.alias,
        name=row.name,
        description=row.description,
        type=row.type,
        version=row.version,
        status=RuleStatus(row.status),
        document=row.document,
        created_at=utc(row.version_created_at),
        updated_at=utc(row.version_updated_at),
    )


async def require_version(conn: AsyncConnection, base_id: str, version: int, *, lock: bool) -> None:
    """Raise RuleVersionNotFoundError unless the version still exists; with
    ``lock``, hold it (FOR KEY SHARE) until the transaction ends."""
    query = sa.select(rule_versions.c.version).where(
        rule_versions.c.base_id == base_id, rule_versions.c.version == version
    )
    if lock:
        query = query.with_for_update(key_share=True, read=True)
    if (await conn.execute(query)).first() is None:
        raise RuleVersionNotFoundError(f"Version {version} of the rule no longer exists")


async def lock_rule(conn: AsyncConnection, base_id: str, *, lock: bool) -> bool:
    """True if the rule exists; with ``lock``, hold its row FOR UPDATE."""
    query = sa.select(rules.c.base_id).where(rules.c.base_id == base_id)
    if lock:
        query = query.with_for_update()
    return (await conn.execute(query)).first() is not None


async def insert_next_version(
    conn: AsyncConnection, rule: RuleVersion, now: datetime, *, lock: bool
) -> int | None:
    """Add ``rule`` as the rule's next version number; None if the rule is gone."""
    if not await lock_rule(conn, rule.base_id, lock=lock):
        return None
    highest = sa.select(sa.func.max(rule_versions.c.version)).where(
        rule_versions.c.base_id == rule.base_id
    )
    number = int((await conn.execute(highest)).scalar_one() or 0) + 1
    await rename_rule(conn, rule, now)
    await insert_version_row(conn, rule, number, now)
    return number


async def insert_rule(conn: AsyncConnection, rule: RuleVersion, now: datetime) -> None:
    """A new rule's row (its first version goes in with :func:`insert_version_row`)."""
    await conn.execute(
        rules.insert().values(
            base_id=rule.base_id,
            space_id=rule.space_id,
            alias=rule.alias,
            name=rule.name,
            description=rule.description,
            type=rule.type,
            created_at=now,
            updated_at=now,
        )
    )


async def rename_rule(conn: AsyncConnection, rule: RuleVersion, now: datetime) -> None:
    """The rule's name and description follow its newest version."""
    await conn.execute(
        rules.update()
        .where(rules.c.base_id == rule.base_id)
        .values(name=rule.name, description=rule.description, updated_at=now)
    )


async def insert_version_row(
    conn: AsyncConnection, rule: RuleVersion, number: int, now: datetime
) -> None:
    await conn.execute(
        rule_versions.insert().values(
            base_id=rule.base_id,
            version=number,
            status=rule.status.value,
            document=rule.document,
            created_at=now,
            updated_at=now,
        )
    )


async def update_version(
    conn: AsyncConnection, rule: RuleVersion, now: datetime, *, latest: bool, lock: bool
) -> bool:
    """Replace a version's document and status; the rule's name and description
    follow its latest version. False if the version is gone. The rule's row is
    locked first, in the order a delete locks, so that the two cannot deadlock."""
    if not await lock_rule(conn, rule.base_id, lock=lock):
        return False
    result = await conn.execute(
        rule_versions.update()
        .where(rule_versions.c.base_id == rule.base_id, rule_versions.c.version == rule.version)
        .values(document=rule.document, status=rule.status.value, updated_at=now)
    )
    if result.rowcount != 1:
        return False
    values: dict[str, Any] = {"updated_at": now}
    if latest:
        values |= {"name": rule.name, "description": rule.description}
    await conn.execute(rules.update().where(rules.c.base_id == rule.base_id).values(**values))
    return True


async def jobs_in_use(conn: AsyncConnection, base_id: str, versions: Sequence[int]) -> int:
    """Waiting, running and canceling jobs of these versions (ix_jobs_rule_state)."""
    query = sa.select(sa.func.count()).where(
        jobs.c.base_id == base_id,
        jobs.c.version.in_(versions),
        jobs.c.state.in_(IN_USE_STATES),
    )
    return int((await conn.execute(query)).scalar_one())


async def delete_versions(
    conn: AsyncConnection, base_id: str, versions: Sequence[int], *, lock: bool
) -> tuple[int, int]:
    """Delete these versions unless a job still needs one; the rule goes with
    its last version. (jobs in use, versions deleted): nothing is deleted when
    the first is not 0."""
    if not await lock_rule(conn, base_id, lock=lock):
        return 0, 0
    if lock:
        # in version order, the order a batch of starts locks them in
        # (store/starts.py): the two cannot deadlock
        held = (
            sa.select(rule_versions.c.version)
            .where(rule_versions.c.base_id == base_id, rule_versions.c.version.in_(versions))
            .order_by(rule_versions.c.version)
        )
        await conn.execute(held.with_for_update())
    in_use = await jobs_in_use(conn, base_id, versions)
    if in_use:
        return in_use, 0
    deleted = await conn.execute(
        rule_versions.delete().where(
            rule_versions.c.base_id == base_id, rule_versions.c.version.in_(versions)
        )
    )
    remaining = sa.select(sa.func.count()).where(rule_versions.c.base_id == base_id)
    if int((await conn.execute(remaining)).scalar_one()) == 0:
        await conn.execute(rules.delete().where(rules.c.base_id == base_id))
    return 0, int(deleted.rowcount)
