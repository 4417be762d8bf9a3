"""The in-process worker against a real database: stopping a job at awkward moments."""

from __future__ import annotations

import asyncio

import pytest

from flowjobs.domain import ClaimedJob, JobState
from flowjobs.worker import Worker
from support.env import Env, MakeEnv, flow


async def test_a_job_canceled_before_its_task_first_runs_still_ends_canceled(env: Env) -> None:
    # Found by the scale test: a cancel that reached the worker between the
    # claim and the job task's first step left the job CANCELING until its
    # lease ran out, because a task cancelled before it starts never runs its
    # clean-up.
    space, key = await env.space_with_key("s")
    await env.push(space, flow("nap", seconds=5))
    job = await env.manager.start(key, "nap", None, {})
    worker = Worker(env.manager, env.settings)
    [claimed] = await env.manager.claim(worker.id, 1)
    await env.manager.cancel(key, job.id)  # RUNNING -> CANCELING

    worker._launch(claimed)
    worker._stop_job(job.id, "user")  # before the task had a chance to start
    task = worker.running[job.id].task
    assert task is not None
    await asyncio.wait_for(task, 5)

    ended = await env.manager.info(key, job.id)
    assert ended.state is JobState.CANCELED
    assert job.id not in worker.running


async def test_a_cancel_while_the_job_records_its_end_does_not_leave_it_canceling(
    env: Env,
) -> None:
    # The other side of the same race: the flow has returned and the worker is
    # writing the job's end when the cancel reaches it. Interrupting that write
    # used to leave the job CANCELING until its lease ran out.
    space, key = await env.space_with_key("s")
    await env.push(space, flow("short", seconds=0.2))
    job = await env.manager.start(key, "short", None, {})
    worker = Worker(env.manager, env.settings)
    [claimed] = await env.manager.claim(worker.id, 1)
    worker._launch(claimed)
    running = worker.running[job.id]
    await env.manager.cancel(key, job.id)  # CANCELING in the store; the worker not told yet
    for _ in range(1000):  # bounded: the flow ends after 0.2 s
        if running.phase == "finishing":
            break
        await asyncio.sleep(0.001)
    assert running.phase == "finishing"
    worker._stop_job(job.id, "user")  # the cancel reaches the worker now
    assert running.task is not None
    await asyncio.wait_for(running.task, 5)

    assert (await env.manager.info(key, job.id)).state is JobState.CANCELED


async def test_a_claim_in_flight_at_shutdown_runs_its_jobs_to_their_end(
    make_env: MakeEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while a claim is on its way back: the jobs it took are launched
    and given the grace period, not left RUNNING by a worker that exited."""
    env = await make_env()
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f", 0.2))
    job = await env.manager.start(key, "f", None, {})
    claimed_one = asyncio.Event()
    claim = env.manager.claim

    async def slow_claim(worker_id: str, limit: int) -> list[ClaimedJob]:
        taken = await claim(worker_id, limit)
        if taken:
            claimed_one.set()
            await asyncio.sleep(0.3)  # shutdown begins while the claim is in flight
        return taken

    monkeypatch.setattr(env.manager, "claim", slow_claim)
    worker = Worker(env.manager, env.settings)
    worker.start()
    await asyncio.wait_for(claimed_one.wait(), 10)
    await asyncio.wait_for(worker.shutdown(grace=5), 20)
    assert (await env.manager.info(key, job.id)).state is JobState.COMPLETED
