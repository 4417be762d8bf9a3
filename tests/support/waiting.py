"""Bounded waits on job states and process logs (no bare sleeps in tests)."""

from __future__ import annotations

import asyncio

from flowjobs.domain import JobState
from support.env import Env
from support.processes import Proc


async def wait_state(
    env: Env, key: object, job_id: str, *states: JobState, timeout: float = 30
) -> object:
    async def poll() -> object:
        while True:
            job = await env.manager.info(key, job_id)  # type: ignore[arg-type]
            if job.state in states:
                return job
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


async def started(proc: Proc) -> None:
    while not any(line.get("action") == "start" for line in proc.log_lines()):
        await asyncio.sleep(0.05)
