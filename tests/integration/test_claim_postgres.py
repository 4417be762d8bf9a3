"""The one-statement claim on PostgreSQL (store/claim.py) under many
concurrent claimers, each with its own connection pool, as separate workers
would be: a space's parallelLimit is never passed, every job is taken once,
and the claim tells the job-change channel which jobs it took."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import psycopg
import pytest

from flowjobs import domain
from flowjobs.clock import utcnow
from flowjobs.domain import ClaimedJob, JobState
from flowjobs.store import SqlStore
from flowjobs.store.database import JOB_CHANNEL
from support.env import Env, MakeEnv, flow

CLAIMERS = 10


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only: SQLite serialises claims with BEGIN IMMEDIATE."""
    return pg_url


async def _fill(env: Env, limits: list[int], jobs_per_space: int) -> dict[str, int]:
    """Spaces with these parallel limits, each with waiting jobs: {space id: limit}."""
    spaces: dict[str, int] = {}
    for index, limit in enumerate(limits):
        space, key = await env.space_with_key(f"s{index}", parallel_limit=limit)
        await env.push(space, flow("f"))
        for _ in range(jobs_per_space):
            await env.manager.start(key, "f", None, {})
        spaces[space.id] = limit
    return spaces


async def _claim_until_dry(store: SqlStore, name: str, rng: random.Random) -> list[ClaimedJob]:
    """Claim (1 to 4 at a time) until two claims in a row find nothing."""
    taken: list[ClaimedJob] = []
    dry = 0
    for _ in range(200):  # bounded; normally ends dry long before
        got = await store.claim(name, rng.randint(1, 4), utcnow, 30.0, domain.RUNNING)
        taken += got
        dry = 0 if got else dry + 1
        if dry == 2:
            break
    return taken


async def _running_per_space(db_url: str) -> Counter[str]:
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(dsn) as conn:
        cursor = await conn.execute(
            "SELECT space_id, count(*) FROM jobs WHERE state IN ('RUNNING', 'CANCELING') "
            "GROUP BY space_id"
        )
        return Counter({space: n for space, n in await cursor.fetchall()})


async def test_concurrent_claimers_never_pass_a_space_limit(make_env: MakeEnv, db_url: str) -> None:
    env = await make_env()
    limits = [1, 2, 3, 5, 8]
    spaces = await _fill(env, limits, jobs_per_space=3 * max(limits) + 2)
    stores = [SqlStore(db_url, pool_size=1) for _ in range(CLAIMERS)]
    rng = random.Random(7)
    try:
        for round_number in range(3):  # claim everything possible, end it all, again
            results = await asyncio.gather(
                *(
                    _claim_until_dry(store, f"w{i}", random.Random(rng.random()))
                    for i, store in enumerate(stores)
                )
            )
            claimed = [c for result in results for c in result]
            running = await _running_per_space(db_url)
            # Active jobs only grow while nothing ends, so the end state holds
            # every overshoot that happened: exactly each limit, never more.
            assert running == Counter(spaces), (round_number, running)
            assert len({c.job.id for c in claimed}) == len(claimed) == sum(limits)
            for item in claimed:
                assert 1 <= item.running_in_space <= spaces[item.job.space_id]
                assert item.document["alias"] == "f"
            for item in claimed:
                assert await env.complete(item.job.id, item.job.worker_id or "", {})
    finally:
        for store in stores:
            await store.close()
    counts = await env.store.job_counts(next(iter(spaces)))
    assert counts[JobState.COMPLETED] == 3 * limits[0]


async def test_claim_notifies_the_ids_it_took(make_env: MakeEnv, db_url: str) -> None:
    env = await make_env()
    space, key = await env.space_with_key("s", parallel_limit=10)
    await env.push(space, flow("f"))
    started = [(await env.manager.start(key, "f", None, {})).id for _ in range(3)]
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as listener:
        await listener.execute(f"LISTEN {JOB_CHANNEL}")
        claimed = await env.store.claim("w", 5, utcnow, 30.0, domain.RUNNING)
        payloads: list[str] = []

        async def first() -> None:
            async for notification in listener.notifies():
                payloads.append(notification.payload)
                return

        await asyncio.wait_for(first(), 10)
    assert [c.job.id for c in claimed] == started  # oldest first
    assert sorted(payloads[0].split(",")) == sorted(started)
    assert all(c.job.state is JobState.RUNNING and c.job.worker_id == "w" for c in claimed)
    assert [c.running_in_space for c in claimed] == [1, 2, 3]
    assert all(c.job.attempts == 1 and c.job.claimed_at is not None for c in claimed)


async def test_a_pooled_connection_the_server_ended_is_replaced_unseen(
    make_env: MakeEnv, db_url: str
) -> None:
    """No pre-ping round trip, yet a terminated backend costs no failed call."""
    env = await make_env()
    space, key = await env.space_with_key("s", parallel_limit=10)
    await env.push(space, flow("f"))
    store = SqlStore(db_url, pool_size=2, max_overflow=0)
    try:
        await asyncio.gather(store.count_waiting(space.id), store.count_waiting(space.id))
        dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
            cursor = await admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = await cursor.fetchone()
        assert row is not None and row[0] >= 2  # both pooled connections, at least
        await asyncio.sleep(0.2)  # the termination reaches the sockets
        job = await env.manager.start(key, "f", None, {})
        assert await store.count_waiting(space.id) == 1
        [claimed] = await store.claim("w", 1, utcnow, 30.0, domain.RUNNING)
        assert claimed.job.id == job.id
    finally:
        await store.close()


async def test_a_claim_that_waited_for_another_claims_again_under_the_lock(
    make_env: MakeEnv, db_url: str
) -> None:
    """A claim whose snapshot predates another claim of the space (here, a
    transaction holding the space's row, as a claim does) must not trust its
    count; it claims again under the space's lock and still gets the job."""
    env = await make_env()
    space, key = await env.space_with_key("s", parallel_limit=2)
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {})
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    async with await psycopg.AsyncConnection.connect(dsn) as other:
        await other.execute(
            "UPDATE spaces SET parallel_limit = parallel_limit WHERE id = %s", (space.id,)
        )
        claiming = asyncio.create_task(env.store.claim("w", 2, utcnow, 30.0, domain.RUNNING))
        await asyncio.sleep(0.5)  # the claim now waits for the space's row
        assert not claiming.done()
        await other.commit()
    [claimed] = await asyncio.wait_for(claiming, 10)
    assert claimed.job.id == job.id and claimed.running_in_space == 1


@pytest.mark.parametrize("durable", [False, True])
async def test_a_claim_sets_its_commit_mode_for_its_own_transaction_only(
    make_env: MakeEnv, durable: bool
) -> None:
    """A claim that need not wait for the disk (the default) says so for its
    own transaction only: the pooled connection keeps the server's setting."""
    from flowjobs.store import claim as claim_sql

    env = await make_env()
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {})
    parameters = claim_sql.claim_parameters(
        "w", 4, utcnow(), 30.0, domain.RUNNING, job_channel=JOB_CHANNEL, durable=durable
    )
    async with env.store.db.autocommit_engine.connect() as conn:
        rows = (await conn.execute(claim_sql.CLAIM_STATEMENT, parameters)).all()
        after = (await conn.exec_driver_sql("SHOW synchronous_commit")).scalar_one()
    claimed, stale = claim_sql.claimed_rows(rows)
    assert ([r.id for r in claimed], stale) == ([job.id], [])
    assert rows[0].commit_mode == ("on" if durable else "off")
    assert after == "on"


async def test_a_claim_walks_the_claim_index_in_order_even_with_no_statistics(
    make_env: MakeEnv,
) -> None:
    """Thousands of jobs waiting in a table PostgreSQL has no statistics of
    yet (new, or just truncated): the claim still walks ix_jobs_claim in its
    order and stops at its limit, instead of reading every waiting job and
    sorting them (what the planner chose here before, 56 ms a claim with
    20,000 waiting)."""
    import sqlalchemy as sa

    from flowjobs.store import claim as claim_sql

    env = await make_env()
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {})
    copies = sa.text(
        "INSERT INTO jobs SELECT (jsonb_populate_record(NULL::jobs, to_jsonb(j) "
        "|| jsonb_build_object('id', gen_random_uuid()::text))).* "
        "FROM jobs j, generate_series(1, 5000) WHERE j.id = :id"
    )
    async with env.store.db.autocommit_engine.connect() as conn:
        await conn.execute(copies, {"id": job.id})
    parameters = claim_sql.claim_parameters(
        "w", 16, utcnow(), 30.0, domain.RUNNING, job_channel=JOB_CHANNEL
    )
    async with env.store.db.claim_engine.connect() as conn:
        explained = await conn.execute(
            sa.text(f"EXPLAIN {claim_sql.CLAIM_STATEMENT.text}"), parameters
        )
        plan = "\n".join(row[0] for row in explained)
    picked = plan.split("CTE picked", 1)[1].split("CTE locked", 1)[0]
    assert "Index Scan using ix_jobs_claim on jobs j" in picked, plan
    assert "Sort" not in picked, plan
    # claimedAt's look for ends stamped after the claimer's clock: a range of
    # ix_jobs_ended (normally empty), never the space's every job
    late_ends = plan.split("CTE late_ends", 1)[1].split("CTE stamped", 1)[0]
    assert "Index Cond: (ended_at >" in late_ends and "ix_jobs_ended" in late_ends, plan


async def test_sessions_run_without_jit_and_keep_the_options_of_the_url(db_url: str) -> None:
    """Every session of the store has JIT off (its compile time exceeds the
    run time of the batch statements that pass its cost threshold); claims'
    sessions also never sort to pick; options given in the URL still apply."""
    url = f"{db_url}{'&' if '?' in db_url else '?'}options=-c%20statement_timeout%3D7000"
    store = SqlStore(url, pool_size=1)

    async def show(engine: Any, *names: str) -> list[str]:
        async with engine.connect() as conn:
            return [(await conn.exec_driver_sql(f"SHOW {n}")).scalar_one() for n in names]

    try:
        assert await show(
            store.db.autocommit_engine, "jit", "statement_timeout", "enable_sort"
        ) == [
            "off",
            "7s",
            "on",
        ]
        assert await show(store.db.claim_engine, "jit", "statement_timeout", "enable_sort") == [
            "off",
            "7s",
            "off",
        ]
    finally:
        await store.close()
