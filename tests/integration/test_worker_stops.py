"""The in-process worker against a real database: stopping a job at awkward moments."""

from __future__ import annotations

import asyncio

from flowjobs.domain import JobState
from flowjobs.worker import Worker
from support.env import Env, flow


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
