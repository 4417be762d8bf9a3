"""SQL of the Solver API's audits (``X-Audit: true``): one row per audited
solve, read by id within its space, deleted once past its ``expires_at``
(:meth:`SqlStore.prune_finished`, through :class:`AuditStore`; the worker's housekeeping and
``flowjobs prune``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.store.database import Database
from flowjobs.store.tables import solve_audits


@dataclass(frozen=True)
class SolveAudit:
    id: str
    space_id: str
    base_id: str
    version: int
    correlation_id: str
    request: Any
    response: Any
    created_at: datetime
    expires_at: datetime


async def insert_audit(conn: AsyncConnection, audit: SolveAudit) -> None:
    await conn.execute(
        solve_audits.insert().values(
            id=audit.id,
            space_id=audit.space_id,
            base_id=audit.base_id,
            version=audit.version,
            correlation_id=audit.correlation_id,
            request=audit.request,
            response=audit.response,
            created_at=audit.created_at,
            expires_at=audit.expires_at,
        )
    )


async def get_audit(
    conn: AsyncConnection, audit_id: str, space_id: str, now: datetime
) -> SolveAudit | None:
    """The audit, if it is of this space and not expired (pruning may lag)."""
    query = sa.select(solve_audits).where(
        solve_audits.c.id == audit_id,
        solve_audits.c.space_id == space_id,
        solve_audits.c.expires_at > now,
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return SolveAudit(
        id=row.id,
        space_id=row.space_id,
        base_id=row.base_id,
        version=row.version,
        correlation_id=row.correlation_id,
        request=row.request,
        response=row.response,
        created_at=_utc(row.created_at),
        expires_at=_utc(row.expires_at),
    )


async def prune_audits(conn: AsyncConnection, now: datetime) -> int:
    """Delete every audit past its time to live (ix_solve_audits_expires)."""
    result = await conn.execute(solve_audits.delete().where(solve_audits.c.expires_at <= now))
    return int(result.rowcount)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class AuditStore:
    """The audits' reads and writes, each in a transaction of its own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert_audit(self, audit: SolveAudit) -> None:
        async with self.db.write() as conn:
            await insert_audit(conn, audit)

    async def get_audit(self, audit_id: str, space_id: str, now: datetime) -> SolveAudit | None:
        async with self.db.read() as conn:
            return await get_audit(conn, audit_id, space_id, now)

    async def prune_audits(self, now: datetime) -> int:
        async with self.db.write() as conn:
            return await prune_audits(conn, now)
