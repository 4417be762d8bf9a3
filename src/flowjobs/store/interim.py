"""DASHBOARD STAND-INS: delete this module when branch `jobsapi` lands.

The smallest queries the dashboard needs to run its own tests before the real
job listing (`JobManager.list_jobs`, branch `jobsapi`) exists. No pagination,
no cursor: the newest ``limit`` jobs only. Nothing but the stand-ins in
manager.py (marked the same way) calls these.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from flowjobs.domain import JobRecord, JobState
from flowjobs.store.sql import SqlStore, _job_from_row
from flowjobs.store.tables import jobs


async def newest_jobs(
    store: SqlStore,
    space_id: str,
    states: Collection[JobState],
    base_id: str | None,
    version: int | None,
    limit: int,
) -> list[JobRecord]:
    query = jobs.select().where(jobs.c.space_id == space_id)
    if states:
        query = query.where(jobs.c.state.in_([s.value for s in states]))
    if base_id is not None:
        query = query.where(jobs.c.base_id == base_id)
    if version is not None:
        query = query.where(jobs.c.version == version)
    query = query.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(limit)
    async with store._read() as conn:
        return [_job_from_row(r) for r in (await conn.execute(query)).all()]


async def state_counts(store: SqlStore, space_id: str) -> dict[JobState, int]:
    query = (
        sa.select(jobs.c.state, sa.func.count())
        .where(jobs.c.space_id == space_id)
        .group_by(jobs.c.state)
    )
    async with store._read() as conn:
        rows = (await conn.execute(query)).all()
    return {JobState(state): int(count) for state, count in rows}
