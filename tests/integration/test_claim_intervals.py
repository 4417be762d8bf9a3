"""claimedAt never precedes the end of the job whose slot the claim took, so
the [claimedAt, endedAt) intervals of a space's jobs never overlap more than
its parallelLimit: audits and billing read them (issue 17, point 8). On
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

from flowjobs import domain
from flowjobs.clock import utcnow
from flowjobs.domain import JobListQuery, JobRecord, JobState
from flowjobs.store import SqlStore
from support.env import Env, MakeEnv, flow


async def _space_with_jobs(env: Env, limit: int, count: int) -> str:
    space, key = await env.space_with_key("audited", parallel_limit=limit)
    await env.push(space, flow("f"))
    for _ in range(count):
        await env.manager.start(key, "f", None, {})
    return space.id


async def _claim_one(store: SqlStore, worker: str, clock: object = utcnow) -> JobRecord:
    claimed = await store.claim(worker, 1, clock, 30.0, domain.RUNNING)  # type: ignore[arg-type]
    assert len(claimed) == 1
    return claimed[0].job


async def _end(store: SqlStore, job: JobRecord, worker: str, at: datetime) -> None:
    assert await store.transition(
        job.id, [JobState.RUNNING], domain.COMPLETED, at, worker_id=worker
    )


async def test_a_claim_whose_clock_was_read_before_the_end_starts_after_it(
    make_env: MakeEnv,
) -> None:
    """The race seen on PostgreSQL: a worker reads its clock, another ends the
    job holding the space's only slot, then the claim runs and takes that slot."""
    env = await make_env()
    await _space_with_jobs(env, limit=1, count=2)
    first = await _claim_one(env.store, "w1")
    read_before_end = utcnow()
    await asyncio.sleep(0.01)
    ended_at = utcnow()
    await _end(env.store, first, "w1", ended_at)

    second = await _claim_one(env.store, "w2", lambda: read_before_end)

    assert second.claimed_at is not None
    assert second.claimed_at >= ended_at


async def test_an_end_stamped_by_a_clock_running_ahead_does_not_overlap_the_next_claim(
    make_env: MakeEnv,
) -> None:
    env = await make_env()
    await _space_with_jobs(env, limit=1, count=2)
    first = await _claim_one(env.store, "w1")
    ahead = utcnow() + timedelta(seconds=2)
    await _end(env.store, first, "w1", ahead)

    second = await _claim_one(env.store, "w2")

    assert second.claimed_at is not None
    assert second.claimed_at >= ahead
    assert second.updated_at == second.claimed_at


def _most_overlapping(intervals: list[tuple[datetime, datetime]]) -> int:
    """The largest number of [start, end) intervals that share an instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in edges:  # at equal instants an end (-1) sorts before a start
        current += step
        most = max(most, current)
    return most


async def _churn(store: SqlStore, worker: str, rng: random.Random, deadline: float) -> int:
    """Claim one job at a time and end it soon after, until none is left."""
    done = idle = 0
    loop = asyncio.get_running_loop()
    while loop.time() < deadline and idle < 20:
        claimed = await store.claim(worker, 1, utcnow, 30.0, domain.RUNNING)
        if not claimed:
            idle += 1
            await asyncio.sleep(0.005)
            continue
        idle = 0
        await asyncio.sleep(rng.random() * 0.01)
        await _end(store, claimed[0].job, worker, utcnow())
        done += 1
    return done


async def test_many_workers_never_overlap_more_than_the_limit(
    make_env: MakeEnv, db_url: str
) -> None:
    env = await make_env()
    limit, count = 3, 120
    space_id = await _space_with_jobs(env, limit=limit, count=count)
    stores = [SqlStore(db_url, pool_size=1) for _ in range(6)]
    rng = random.Random(17)
    deadline = asyncio.get_running_loop().time() + 60
    try:
        done = await asyncio.gather(
            *(
                _churn(store, f"w{i}", random.Random(rng.random()), deadline)
                for i, store in enumerate(stores)
            )
        )
    finally:
        for store in stores:
            await store.close()
    assert sum(done) == count
    query = JobListQuery(space_id, frozenset(), None, None, None, None, count, full=False)
    intervals = [(job.claimed_at, job.ended_at) for job in await env.store.list_jobs(query)]
    assert len(intervals) == count
    assert _most_overlapping(intervals) <= limit  # type: ignore[arg-type]


async def test_a_claim_beside_a_free_slot_keeps_its_own_clock(make_env: MakeEnv) -> None:
    """Only what the limit needs: with a slot to spare beside the ended job's,
    the claim keeps its clock (the two intervals may overlap: limit 2)."""
    env = await make_env()
    await _space_with_jobs(env, limit=2, count=2)
    first = await _claim_one(env.store, "w1")
    ahead = utcnow() + timedelta(seconds=2)
    await _end(env.store, first, "w1", ahead)
    read = utcnow()

    second = await _claim_one(env.store, "w2", lambda: read)

    assert second.claimed_at == read
