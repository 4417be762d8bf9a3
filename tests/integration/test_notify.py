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


async def test_a_cancel_notification_names_its_job_and_stops_only_that_one(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    """Two workers, one job each; polls and heartbeats an hour apart, so only
    the notification (whose payload names the job) can stop a job."""
    env = await make_env()
    space, key = await env.space_with_key("s")
    await env.push(space, flow("long", 60))
    quiet = SLOW_POLLS | {"FLOWJOBS_CONCURRENCY": "1", "FLOWJOBS_LEASE_SECONDS": "3600"}
    with (
        running(db_url, "worker", log_dir=tmp_path, name="w1", extra_env=quiet) as one,
        running(db_url, "worker", log_dir=tmp_path, name="w2", extra_env=quiet) as two,
    ):
        await asyncio.wait_for(asyncio.gather(started(one), started(two)), 30)
        first = await env.manager.start(key, "long", None, {})
        second = await env.manager.start(key, "long", None, {})
        ran = [
            await wait_state(env, key, j.id, JobState.RUNNING, timeout=15) for j in (first, second)
        ]
        assert len({job.worker_id for job in ran}) == 2  # type: ignore[attr-defined]
        asked = await env.manager.cancel(key, first.id)
        assert asked.state is JobState.CANCELING
        await wait_state(env, key, first.id, JobState.CANCELED, timeout=10)
        assert (await env.manager.info(key, second.id)).state is JobState.RUNNING
        await env.manager.cancel(key, second.id)
        await wait_state(env, key, second.id, JobState.CANCELED, timeout=10)
