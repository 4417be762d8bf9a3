"""Job operations through the manager on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from flowjobs import domain
from flowjobs.clock import utcnow
from flowjobs.domain import JobState, JobStatusCode, KeyKind, NewJob
from flowjobs.errors import (
    ForbiddenError,
    JobConflictError,
    JobNotFoundError,
    RuleNotFoundError,
    RuleVersionNotFoundError,
)
from flowjobs.store.tables import jobs
from support.env import Env, MakeEnv, flow


async def test_start_claim_complete_wraps_output_in_an_array(env: Env) -> None:
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {"x": 1}, correlation_id="c-1")
    assert (job.state, job.code, job.message) == (
        JobState.WAITING,
        JobStatusCode.JOB_INITIALIZED,
        "Job initialized",
    )
    assert job.correlation_id == "c-1"

    [claimed] = await env.manager.claim("w1", 5)
    assert claimed.job.id == job.id
    assert claimed.job.state is JobState.RUNNING and claimed.job.claimed_at is not None
    assert claimed.running_in_space == 1

    assert await env.complete(job.id, "w1", {"y": 2}) is JobState.COMPLETED
    done = await env.manager.info(key, job.id)
    assert done.state is JobState.COMPLETED and done.code is JobStatusCode.JOB_SUCCESS
    assert done.output == [{"y": 2}]
    assert done.ended_at is not None and done.ended_at >= done.claimed_at  # type: ignore[operator]


async def test_claims_follow_priority_then_age(env: Env) -> None:
    space, key = await env.space_with_key("s", parallel_limit=100)
    await env.push(space, flow("f"))
    started = []
    for priority in (0, 5, 10, 5, 0):
        started.append((await env.manager.start(key, "f", None, {}, priority=priority)).id)
    order = [(await env.manager.claim("w", 1))[0].job.id for _ in started]
    assert order == [started[2], started[1], started[3], started[0], started[4]]


async def test_space_default_priority_applies(env: Env) -> None:
    space, key = await env.space_with_key("s", priority=7)
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {})
    assert job.priority == 7


async def test_versions_latest_and_pending(env: Env) -> None:
    space, key = await env.space_with_key("s")
    v1 = await env.push(space, flow("f", 0))
    v2 = await env.catalog.push_rule(space.id, flow("f", 1), publish=False)
    assert (v1.version, v2.version, v2.base_id) == (1, 2, v1.base_id)
    assert (await env.manager.start(key, "f", "latest", {})).version == 1
    assert (await env.manager.start(key, v1.base_id, "1", {})).version == 1
    with pytest.raises(RuleVersionNotFoundError):
        await env.manager.start(key, "f", "2", {})
    await env.catalog.push_rule(space.id, flow("f", 1), publish=True)  # same doc: publishes v2
    assert (await env.manager.start(key, "f", None, {})).version == 2
    with pytest.raises(RuleNotFoundError):
        await env.manager.start(key, "nope", None, {})


async def test_parallel_limit_holds_under_concurrent_claimers(make_env: MakeEnv) -> None:
    """Eight claimers, each with its own connection pool, race for one space."""
    envs = [await make_env() for _ in range(8)]
    space, key = await envs[0].space_with_key("s", parallel_limit=3)
    await envs[0].push(space, flow("f"))
    total = 60
    for _ in range(total):
        await envs[0].manager.start(key, "f", None, {})
    seen: list[int] = []
    done: list[str] = []

    async def claimer(env: Env, name: str) -> None:
        for _ in range(400):  # bounded: far more rounds than jobs
            if len(done) >= total:
                return
            for item in await env.manager.claim(name, 2):
                seen.append(item.running_in_space)
                running = await env.store.get_job(item.job.id)
                assert running is not None
                seen.append(await _active_count(env, space.id))
                await asyncio.sleep(0.005)
                await env.complete(item.job.id, name, None)
                done.append(item.job.id)
            await asyncio.sleep(0.002)

    await asyncio.wait_for(
        asyncio.gather(*(claimer(e, f"w{i}") for i, e in enumerate(envs))), timeout=90
    )
    assert sorted(done) == sorted(set(done)) and len(done) == total  # each exactly once
    assert max(seen) <= 3
    assert max(seen) >= 2  # the claimers did overlap


async def _active_count(env: Env, space_id: str) -> int:
    import sqlalchemy as sa

    from flowjobs.store.tables import jobs

    async with env.store.db.read() as conn:
        query = sa.select(sa.func.count()).where(
            jobs.c.space_id == space_id, jobs.c.state.in_(["RUNNING", "CANCELING"])
        )
        return int((await conn.execute(query)).scalar_one())


async def test_cancel_in_every_state(env: Env) -> None:
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    m = env.manager

    waiting = await m.start(key, "f", None, {})
    canceled = await m.cancel(key, waiting.id)
    assert (canceled.state, canceled.code) == (JobState.CANCELED, JobStatusCode.JOB_USER_CANCELED)
    assert canceled.ended_at is not None
    assert (await m.cancel(key, waiting.id)).updated_at == canceled.updated_at  # idempotent

    running = await m.start(key, "f", None, {})
    await m.claim("w", 1)
    canceling = await m.cancel(key, running.id)
    assert (canceling.state, canceling.code, canceling.message) == (
        JobState.CANCELING,
        JobStatusCode.JOB_RUNNING,
        "Job is being canceled",
    )
    assert (await m.cancel(key, running.id)).state is JobState.CANCELING
    assert await m.canceling_jobs("w") == [running.id]
    # The flow finishing after the cancel does not win: the cancel was acknowledged.
    assert await env.complete(running.id, "w", {"late": True}) is JobState.CANCELED
    assert (await m.info(key, running.id)).output is None

    completed = await m.start(key, "f", None, {})
    await m.claim("w", 1)
    await env.complete(completed.id, "w", 1)
    with pytest.raises(JobConflictError):
        await m.cancel(key, completed.id)

    failed = await m.start(key, "f", None, {})
    await m.claim("w", 1)
    await env.fail(failed.id, "w", domain.execution_error("x"), {"message": "x"})
    with pytest.raises(JobConflictError):
        await m.cancel(key, failed.id)
    assert (await m.info(key, failed.id)).state is JobState.ERROR

    with pytest.raises(JobNotFoundError):
        await m.cancel(key, "not-a-uuid")


async def test_cancel_all_in_space_only_touches_that_space(env: Env) -> None:
    space, key = await env.space_with_key("s", parallel_limit=2)
    other, other_key = await env.space_with_key("o")
    await env.push(space, flow("f"))
    await env.push(other, flow("f"))
    for _ in range(5):
        await env.manager.start(key, "f", None, {})
    foreign = await env.manager.start(other_key, "f", None, {})
    claimed = [c.job.id for c in await env.manager.claim("w", 2) if c.job.space_id == space.id]

    counts = await env.manager.cancel_all_in_space(key, space.id, include_running=False)
    assert (counts.canceled, counts.canceling) == (5 - len(claimed), 0)
    for job_id in claimed:
        assert (await env.manager.info(key, job_id)).state is JobState.RUNNING
    assert (await env.manager.info(other_key, foreign.id)).state in (
        JobState.WAITING,
        JobState.RUNNING,
    )

    again = await env.manager.cancel_all_in_space(key, space.id, include_running=True)
    assert (again.canceled, again.canceling) == (0, len(claimed))
    with pytest.raises(ForbiddenError):
        await env.manager.cancel_all_in_space(key, other.id, include_running=False)


async def test_cancel_all_of_rule_version(env: Env) -> None:
    space, key = await env.space_with_key("s", parallel_limit=1)
    await env.push(space, flow("f"))
    await env.push(space, flow("g"))
    for _ in range(3):
        await env.manager.start(key, "f", None, {})
    g_job = await env.manager.start(key, "g", None, {})
    result = await env.manager.cancel_all_of_rule(key, "f", "1", include_running=False)
    assert result.rule.alias == "f" and result.counts.canceled == 3
    assert (await env.manager.info(key, g_job.id)).state is JobState.WAITING
    with pytest.raises(RuleNotFoundError):
        await env.manager.cancel_all_of_rule(key, "nope", "1", include_running=False)


async def test_cancel_all_is_one_statement_for_many_jobs(env: Env) -> None:
    """20,000 waiting jobs (bench/ measures 100,000) cancel in one call."""
    import uuid
    from datetime import UTC, datetime

    from flowjobs.store.tables import jobs

    space, key = await env.space_with_key("s")
    first = await env.manager.start(key, (await env.push(space, flow("f"))).alias, None, {})
    job = await env.store.get_job(first.id)
    assert job is not None
    now = datetime.now(UTC)
    base = {c.name: getattr(job, c.name, None) for c in jobs.c if hasattr(job, c.name)}
    base |= {
        "input": {},
        "created_at": now,
        "updated_at": now,
        "state": "WAITING",
        "code": "JOB_INITIALIZED",
        "message": "Job initialized",
    }
    rows = [base | {"id": str(uuid.uuid4())} for _ in range(20_000)]
    async with env.store.db.write() as conn:
        await conn.execute(jobs.insert(), rows)
    counts = await env.manager.cancel_all_in_space(key, space.id, include_running=False)
    assert counts.canceled == 20_001


async def test_expired_lease_ends_as_zombie(make_env: MakeEnv) -> None:
    env = await make_env(lease_seconds=0.2)
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    running = await env.manager.start(key, "f", None, {})
    canceling = await env.manager.start(key, "f", None, {})
    await env.manager.claim("dead-worker", 2)
    await env.manager.cancel(key, canceling.id)
    await asyncio.sleep(0.3)
    assert await env.manager.reap() == 2
    zombie = await env.manager.info(key, running.id)
    assert (zombie.state, zombie.code) == (JobState.ERROR, JobStatusCode.ZOMBIE_PROCESS)
    assert zombie.error == {
        "message": "The process running the job stopped",
        "nodeId": None,
        "type": "ZOMBIE_PROCESS",
    }
    assert (await env.manager.info(key, canceling.id)).state is JobState.CANCELED
    # The dead worker, should it come back, can no longer finish either job.
    assert await env.complete(running.id, "dead-worker", 1) is None
    beat = await env.manager.heartbeat("dead-worker", [running.id])
    assert beat.lost == [running.id]


async def test_job_past_its_deadline_is_timed_out_by_the_reaper(make_env: MakeEnv) -> None:
    env = await make_env(lease_seconds=0.05, execution_limit_seconds=0.05)
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {})
    await env.manager.claim("w", 1)
    await asyncio.sleep(0.2)
    await env.manager.heartbeat("w", [job.id])  # the worker is alive, but the job overran
    assert await env.manager.reap() == 1
    timed_out = await env.manager.info(key, job.id)
    assert (timed_out.state, timed_out.code) == (JobState.ERROR, JobStatusCode.JOB_TIMEOUT)
    assert timed_out.message == "Job exceeded its execution limit of 0.05 s"
    assert timed_out.error is not None and timed_out.error["type"] == "JOB_TIMEOUT"


async def test_heartbeat_reports_cancels_and_renews(env: Env) -> None:
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    a = await env.manager.start(key, "f", None, {})
    b = await env.manager.start(key, "f", None, {})
    await env.manager.claim("w", 2)
    await env.manager.cancel(key, b.id)
    beat = await env.manager.heartbeat("w", [a.id, b.id])
    assert beat.canceling == [b.id] and beat.lost == []
    other = await env.manager.heartbeat("someone-else", [a.id])
    assert other.lost == [a.id]


async def test_keys_authenticate_by_hash_only(env: Env) -> None:
    from flowjobs.errors import UnauthorizedError
    from flowjobs.store.tables import api_keys

    space, _ = await env.space_with_key("s")
    created = await env.catalog.create_key(space.id, KeyKind.SOLVER, "k")
    assert (await env.catalog.authenticate(created.secret)).id == created.key.id
    with pytest.raises(UnauthorizedError):
        await env.catalog.authenticate(created.secret + "x")
    import sqlalchemy as sa

    async with env.store.db.read() as conn:
        stored = [tuple(r) for r in (await conn.execute(sa.select(api_keys))).all()]
    assert not any(created.secret in str(value) for row in stored for value in row)


async def test_opt_in_retry_requeues_a_lost_job_then_gives_up(make_env: MakeEnv) -> None:
    env = await make_env(lease_seconds=0.1)
    space, key = await env.space_with_key("s")
    document = flow("safe") | {"settings": {"retryOnWorkerLoss": 1}}
    await env.push(space, document)
    job = await env.manager.start(key, "safe", None, {})

    await env.manager.claim("dies-first", 1)
    await asyncio.sleep(0.2)
    assert await env.manager.reap() == 1
    requeued = await env.manager.info(key, job.id)
    assert (requeued.state, requeued.code) == (JobState.WAITING, JobStatusCode.JOB_WAITING)
    assert requeued.worker_id is None

    [again] = await env.manager.claim("dies-too", 1)
    assert again.job.id == job.id and again.job.attempts == 2
    await asyncio.sleep(0.2)
    assert await env.manager.reap() == 1
    assert (await env.manager.info(key, job.id)).code is JobStatusCode.ZOMBIE_PROCESS


async def test_retry_setting_is_validated_at_push(env: Env) -> None:
    from flowjobs.errors import FlowValidationError

    space, _ = await env.space_with_key("s")
    with pytest.raises(FlowValidationError) as caught:
        await env.push(space, flow("bad") | {"settings": {"retryOnWorkerLoss": "often"}})
    assert any("retryOnWorkerLoss" in p for p in caught.value.problems)


async def test_one_claim_of_many_jobs_takes_each_with_its_own_deadline_and_document(
    env: Env,
) -> None:
    """A claim of several jobs of several rules, spaces and execution limits:
    the claim order, each space's limit and running count, each job's own
    deadline (claimed_at + its execution limit) and its rule's document."""
    full, key_full = await env.space_with_key("full", parallel_limit=2)
    free, key_free = await env.space_with_key("free", parallel_limit=10)
    rules = [await env.push(full, flow("a")), await env.push(free, flow("b"))]
    rules.append(await env.push(free, flow("c", 1)))
    plan = [(full, key_full, rules[0], 30.0)] * 3
    plan += [(free, key_free, rules[1], 30.0), (free, key_free, rules[2], 90.0)] * 2
    started = []
    for space, key, rule, limit_s in plan:
        new = NewJob(
            id=str(uuid.uuid4()),
            space=space,
            rule=rule,
            correlation_id="c",
            input={},
            priority=0,
            environment_group="test",
            api_key=key,
            execution_limit_s=limit_s,
        )
        started.append(await env.store.insert_job(new, utcnow(), domain.INITIALIZED))

    claimed = await env.manager.claim("w", 20)

    assert [c.job.id for c in claimed] == [j.id for j in started[:2] + started[3:]]
    assert [c.running_in_space for c in claimed] == [1, 2, 1, 2, 3, 4]
    documents = {rule.base_id: rule.document for rule in rules}
    assert all(c.document == documents[c.job.base_id] for c in claimed)
    query = sa.select(jobs.c.id, jobs.c.claimed_at, jobs.c.deadline_at, jobs.c.state)
    async with env.store.db.read() as conn:
        stored = {r.id: r for r in (await conn.execute(query)).all()}
    for job, (_, _, _, limit_s) in zip(started, plan, strict=True):
        row = stored[job.id]
        if job.id == started[2].id:
            assert row.state == JobState.WAITING.value and row.deadline_at is None
        else:
            assert row.deadline_at - row.claimed_at == timedelta(seconds=limit_s)
