"""Execution seconds per space and month, added in the transaction that ends a job.

Billing rule, applied as each ending is recorded: when the space has a quota
and pay-as-you-go is off, only the seconds that bring the month's usage up to
the quota are billed; the rest are used but not billed. Otherwise every second
is billed. Each increment is judged by the space's settings at that moment, so
changing the quota mid-month does not rewrite seconds already recorded.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import EndedJob, JobState, MonthUsage, month_of
from flowjobs.store.database import Database
from flowjobs.store.tables import jobs, space_usage, spaces


def seconds_by_space_month(ended: Sequence[EndedJob]) -> dict[tuple[str, str], float]:
    """Seconds from RUNNING to the end of each job that ran, summed per space
    and month of the ending; jobs canceled while waiting count nothing."""
    totals: dict[tuple[str, str], float] = defaultdict(float)
    for job in ended:
        if job.claimed_at is None:
            continue
        seconds = max(0.0, (job.ended_at - job.claimed_at).total_seconds())
        totals[(job.space_id, month_of(job.ended_at))] += seconds
    return dict(totals)


def _billing_cap() -> sa.ScalarSelect[float | None]:
    """The space's quota when it caps billing (pay-as-you-go off); else NULL.
    A primary-key read of the space."""
    cap = sa.case((spaces.c.pay_as_you_go == sa.false(), spaces.c.quota_seconds))
    return sa.select(cap).where(spaces.c.id == sa.bindparam("usage_space")).scalar_subquery()


def _billed_increment(
    dialect: str, used_before: sa.ColumnElement[float]
) -> sa.ColumnElement[float]:
    """Seconds billed out of the seconds added on top of ``used_before``:
    ``max(0, min(seconds, cap - used_before))``, or all of them without a cap."""
    least, greatest = (
        (sa.func.min, sa.func.max) if dialect == "sqlite" else (sa.func.least, sa.func.greatest)
    )
    added = sa.bindparam("usage_seconds", type_=sa.Float)
    headroom = sa.func.coalesce(_billing_cap() - used_before, added)
    increment: sa.ColumnElement[float] = greatest(sa.literal(0.0, sa.Float), least(added, headroom))
    return increment


@functools.cache
def _upsert(dialect: str) -> sa.Insert:
    """One statement: create the month's row, or add to it. Built once per
    dialect with bound parameters (``usage_space``, ``usage_month``,
    ``usage_seconds``), so that SQLAlchemy's compiled cache hits at once."""
    insert_into = sqlite_insert if dialect == "sqlite" else postgresql_insert
    nothing = sa.literal(0.0, sa.Float)
    seconds = sa.bindparam("usage_seconds", type_=sa.Float)
    insert = insert_into(space_usage).values(
        space_id=sa.bindparam("usage_space", type_=space_usage.c.space_id.type),
        month=sa.bindparam("usage_month", type_=space_usage.c.month.type),
        used_seconds=seconds,
        billed_seconds=_billed_increment(dialect, nothing),
    )
    row = space_usage.c
    return insert.on_conflict_do_update(
        index_elements=[row.space_id, row.month],
        set_={
            "used_seconds": row.used_seconds + seconds,
            "billed_seconds": row.billed_seconds + _billed_increment(dialect, row.used_seconds),
        },
    )


async def add_usage(conn: AsyncConnection, ended: Sequence[EndedJob], now: datetime) -> None:
    """Add each ended job's seconds from RUNNING to its end to its space's month:
    one upsert per space and month, in space order (rows locked in one order)."""
    upsert = _upsert(conn.dialect.name)
    for (space_id, month), seconds in sorted(seconds_by_space_month(ended).items()):
        params = {"usage_space": space_id, "usage_month": month, "usage_seconds": seconds}
        await conn.execute(upsert, params)


async def month_usage(conn: AsyncConnection, space_id: str, month: str) -> MonthUsage:
    """A space's usage row for a month (a primary-key read); zeros if none."""
    query = sa.select(space_usage.c.used_seconds, space_usage.c.billed_seconds).where(
        space_usage.c.space_id == space_id, space_usage.c.month == month
    )
    row = (await conn.execute(query)).first()
    return MonthUsage() if row is None else MonthUsage(row.used_seconds, row.billed_seconds)


async def job_counts(
    conn: AsyncConnection, space_id: str, start: datetime, end: datetime
) -> dict[JobState, int]:
    """Jobs of a space created in [start, end), per state (every state present)."""
    query = (
        sa.select(jobs.c.state, sa.func.count())
        .where(jobs.c.space_id == space_id, jobs.c.created_at >= start, jobs.c.created_at < end)
        .group_by(jobs.c.state)
    )
    counts = dict.fromkeys(JobState, 0)
    for state, count in (await conn.execute(query)).all():
        counts[JobState(state)] = int(count)
    return counts


class UsageStore:
    """A space's usage, read for its report and for the quota check at start."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def month_usage(self, space_id: str, month: str) -> MonthUsage:
        """A space's execution seconds in a month ("YYYY-MM"): one primary-key read."""
        async with self.db.read() as conn:
            return await month_usage(conn, space_id, month)

    async def month_job_counts(
        self, space_id: str, created_from: datetime, created_before: datetime
    ) -> dict[JobState, int]:
        """A space's jobs created in [created_from, created_before), per state."""
        async with self.db.read() as conn:
            return await job_counts(conn, space_id, created_from, created_before)
