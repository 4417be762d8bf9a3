"""PostgreSQL LISTEN/NOTIFY wakes separate worker processes: with polls set to
a minute, a job still starts and a cancel still lands within seconds."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flowjobs.domain import JobState, JobStatusCode
from support.env import MakeEnv, flow
from support.processes import running
from support.waiting import started, wait_state

SLOW_POLLS = {
    "FLOWJOBS_POLL_INTERVAL": "60",
    "FLOWJOBS_CANCEL_POLL_INTERVAL": "60",
    "FLOWJOBS_REAP_INTERVAL": "60",
}


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only: SQLite has no notifications."""
    return pg_url


async def test_notifications_wake_an_idle_worker_and_deliver_cancels(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env()
    space, key = await env.space_with_key("s")
    await env.push(space, flow("long", 60))
    with running(db_url, "worker", log_dir=tmp_path, name="w", extra_env=SLOW_POLLS) as worker:
        await asyncio.wait_for(started(worker), 30)
        for _ in range(3):  # each one wakes the worker; none waits for a poll
            job = await env.manager.start(key, "long", None, {})
            await wait_state(env, key, job.id, JobState.RUNNING, timeout=15)
            await env.manager.cancel(key, job.id)
            canceled = await wait_state(env, key, job.id, JobState.CANCELED, timeout=15)
            assert canceled.code is JobStatusCode.JOB_USER_CANCELED  # type: ignore[attr-defined]
