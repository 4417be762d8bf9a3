"""Idempotent starts and re-runs through the manager, on real SQLite and
PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flowjobs import domain
from flowjobs.domain import JobFilter, JobState
from flowjobs.errors import (
    IdempotencyKeyReusedError,
    JobConflictError,
    JobNotFoundError,
    RuleVersionNotFoundError,
)
from flowjobs.store import sync_url
from flowjobs.store.tables import jobs
from support.env import Env, MakeEnv, flow


def _age_jobs(db_url: str, hours: float) -> None:
    """Move every job's creation ``hours`` into the past."""
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            for row in conn.execute(sa.select(jobs.c.id, jobs.c.created_at)).all():
                earlier = row.created_at - timedelta(hours=hours)
                conn.execute(jobs.update().where(jobs.c.id == row.id).values(created_at=earlier))
    finally:
        engine.dispose()


async def test_same_key_returns_the_first_job_and_another_body_is_refused(
    make_env: MakeEnv, db_url: str
) -> None:
    env = await make_env()
    space, key = await env.space_with_key("s")
    other_space, other_key = await env.space_with_key("other")
    await env.push(space, flow("f"))
    await env.push(other_space, flow("f"))
    start = env.manager.start
    first = await start(key, "f", None, {"a": 1}, idempotency_key="k-1")
    again = await start(key, "f", "latest", {"a": 1}, idempotency_key="k-1")
    assert again == first
    with pytest.raises(IdempotencyKeyReusedError):
        await start(key, "f", None, {"a": 2}, idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReusedError):
        await start(key, "f", "1", {"a": 1}, idempotency_key="k-1")  # another version spec
    elsewhere = await start(other_key, "f", None, {"a": 1}, idempotency_key="k-1")
    assert elsewhere.id != first.id  # keys belong to a space
    assert (await start(key, "f", None, {"a": 1})).id != first.id  # no key: a new job
    started = env.manager.metrics.registry.get_sample_value("flowjobs_jobs_started_total")
    assert started == 3  # replays start nothing

    _age_jobs(db_url, 25)  # past the 24 h time to live: the key starts a new job
    later = await start(key, "f", None, {"a": 2}, idempotency_key="k-1")
    assert later.id != first.id
    assert (await start(key, "f", None, {"a": 2}, idempotency_key="k-1")).id == later.id

    # Six starts at once, each through its own connection pool: one job.
    envs = [env] + [await make_env() for _ in range(5)]
    racing = await asyncio.gather(
        *(e.manager.start(key, "f", None, {"x": 1}, idempotency_key="once") for e in envs)
    )
    assert len({job.id for job in racing}) == 1
    once = await env.manager.list_jobs(space.id, JobFilter(since=racing[0].created_at))
    assert [j.id for j in once.jobs] == [racing[0].id]


async def test_rerun_of_failed_and_canceled_jobs_only(env: Env, db_url: str) -> None:
    space, key = await env.space_with_key("s")
    v1 = await env.push(space, flow("f", 0))
    failed = await env.manager.start(key, "f", None, {"n": 1}, priority=7, correlation_id="c")
    await env.catalog.push_rule(space.id, flow("f", 1), publish=True)  # v2 is now the latest
    [claimed] = await env.manager.claim("w", 1)
    status = domain.execution_error("boom")
    await env.fail(failed.id, "w", status, domain.error_detail(status))

    rerun = await env.manager.rerun(key, failed.id)
    assert rerun.id != failed.id and rerun.rerun_of == failed.id
    assert (rerun.base_id, rerun.version) == (v1.base_id, 1)  # the version that failed
    assert (rerun.input, rerun.priority, rerun.state) == ({"n": 1}, 7, JobState.WAITING)
    assert rerun.correlation_id not in ("c", failed.correlation_id)
    assert (await env.manager.info(key, rerun.id)).rerun_of == failed.id

    with pytest.raises(JobConflictError):  # WAITING
        await env.manager.rerun(key, rerun.id)
    await env.manager.cancel(key, rerun.id)
    again = await env.manager.rerun(key, rerun.id, correlation_id="mine")
    assert (again.rerun_of, again.correlation_id) == (rerun.id, "mine")
    _, other_key = await env.space_with_key("other")
    with pytest.raises(JobNotFoundError):
        await env.manager.rerun(other_key, failed.id)
    assert claimed.job.id == failed.id

    [claimed_again] = await env.manager.claim("w", 1)
    assert claimed_again.job.id == again.id
    await env.complete(again.id, "w", {})
    with pytest.raises(JobConflictError):  # COMPLETED
        await env.manager.rerun(key, again.id)
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:  # no command deletes versions yet: do it by hand
            conn.execute(sa.text("DELETE FROM rule_versions"))
    finally:
        engine.dispose()
    with pytest.raises(RuleVersionNotFoundError):
        await env.manager.rerun(key, rerun.id)
