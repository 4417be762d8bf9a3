"""DASHBOARD STAND-INS: delete this module when branches `jobsapi` and `rules` land.

The smallest queries the dashboard needs to run its own tests before the real
job listing (`JobManager.list_jobs`, branch `jobsapi`) and the real rule
listing (catalog, branch `rules`) exist. No pagination, no cursor: the newest
``limit`` jobs only. Nothing but the stand-ins in manager.py and catalog.py
(marked the same way) calls these.
"""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from flowjobs.domain import JobRecord, JobState, RuleStatus, RuleVersion
from flowjobs.store.sql import SqlStore, _job_from_row
from flowjobs.store.tables import jobs, rule_versions, rules


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


async def rule_versions_of_space(store: SqlStore, space_id: str) -> list[RuleVersion]:
    query = (
        sa.select(rules, rule_versions.c.version, rule_versions.c.status, rule_versions.c.document)
        .join(rule_versions, rule_versions.c.base_id == rules.c.base_id)
        .where(rules.c.space_id == space_id)
        .order_by(rules.c.alias, rule_versions.c.version)
    )
    async with store._read() as conn:
        rows = (await conn.execute(query)).all()
    return [
        RuleVersion(
            base_id=r.base_id,
            space_id=r.space_id,
            alias=r.alias,
            name=r.name,
            description=r.description,
            type=r.type,
            version=r.version,
            status=RuleStatus(r.status),
            document=r.document,
        )
        for r in rows
    ]
