"""Waiting on jobs: one watcher per process, woken in-process, by PostgreSQL
notifications from other processes, or by its periodic batched read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowjobs.domain import JobRecord, JobState
from flowjobs.errors import TooManyWaitersError
from support.env import Env, MakeEnv, flow
from support.processes import running

TWO_NAPS = {
    "name": "two naps",
    "alias": "two-naps",
    "nodes": [
        {"id": "first", "type": "wait", "seconds": 0.4},
        {"id": "second", "type": "wait", "seconds": 0.4},
        {"id": "done", "type": "end", "output": "input"},
    ],
}


async def _watching(env: Env) -> AsyncIterator[Env]:
    task = asyncio.create_task(env.manager.watch())
    try:
        yield env
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _subscribed(env: Env, count: int) -> None:
    while env.manager.watcher.subscribers < count:
        await asyncio.sleep(0.01)


async def _collect(changes: AsyncIterator[JobRecord]) -> list[JobRecord]:
    return [job async for job in changes]


@pytest.fixture
async def slow_poll(make_env: MakeEnv) -> AsyncIterator[Env]:
    """A manager whose watcher re-reads only when told to (its poll: a minute)."""
    async for env in _watching(await make_env(watch_poll_interval=60, max_waiters=2)):
        yield env


async def test_a_waiter_wakes_when_this_process_ends_the_job(slow_poll: Env) -> None:
    env = slow_poll
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {})
    await env.manager.claim("w", 1)
    started = time.monotonic()
    waiter = asyncio.create_task(env.manager.wait_for_end(key, job.id, 30))
    await asyncio.wait_for(_subscribed(env, 1), 5)
    await env.complete(job.id, "w", {"ok": True})
    ended = await asyncio.wait_for(waiter, 10)
    assert ended.state is JobState.COMPLETED and ended.output == [{"ok": True}]
    assert time.monotonic() - started < 10
    assert env.manager.watcher.subscribers == 0


async def test_waits_time_out_and_are_capped_per_process(slow_poll: Env) -> None:
    env = slow_poll
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    job = await env.manager.start(key, "f", None, {})
    as_it_was = await env.manager.wait_for_end(key, job.id, 0.2)
    assert as_it_was.state is JobState.WAITING
    streams = [env.manager.job_changes(key, job.id) for _ in range(3)]
    assert (await anext(streams[0])).state is JobState.WAITING
    assert (await anext(streams[1])).state is JobState.WAITING
    with pytest.raises(TooManyWaitersError):  # max_waiters=2
        await anext(streams[2])
    await streams[0].aclose()  # a closed stream frees its place
    streams[2] = env.manager.job_changes(key, job.id)
    assert (await anext(streams[2])).state is JobState.WAITING
    await env.manager.cancel(key, job.id)
    for stream in streams[1:]:
        canceled = await asyncio.wait_for(anext(stream), 10)
        assert canceled.state is JobState.CANCELED
        await stream.aclose()
    assert env.manager.watcher.subscribers == 0


async def test_a_stream_follows_a_job_run_by_another_process(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL with the poll at a minute, so only NOTIFY can wake it; on
    SQLite, where there are no notifications, the poll is the safety net."""
    poll = 0.2 if db_url.startswith("sqlite") else 60
    async for env in _watching(await make_env(watch_poll_interval=poll)):
        space, key = await env.space_with_key("s")
        await env.push(space, TWO_NAPS)
        job = await env.manager.start(key, "two-naps", None, {"n": 1})
        changes = env.manager.job_changes(key, job.id)
        seen = [await anext(changes)]
        fast = {"FLOWJOBS_POLL_INTERVAL": "0.05", "FLOWJOBS_DETAILS_FLUSH_INTERVAL": "0.1"}
        with running(db_url, "worker", "--burst", log_dir=tmp_path, name="w", extra_env=fast):
            seen += await asyncio.wait_for(_collect(changes), 30)
    states = [j.state for j in seen]
    assert states[0] is JobState.WAITING and states[-1] is JobState.COMPLETED
    assert JobState.RUNNING in states
    assert any(j.state is JobState.RUNNING and j.progress for j in seen)  # a progress save
    assert seen[-1].output == [{"n": 1}]
