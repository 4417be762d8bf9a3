"""Real worker processes over a shared database: limits, crashes, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from flowjobs.domain import JobState, JobStatusCode
from support.env import MakeEnv, flow
from support.processes import running
from support.waiting import started, wait_state

FAST = {
    "FLOWJOBS_POLL_INTERVAL": "0.05",
    "FLOWJOBS_CANCEL_POLL_INTERVAL": "0.05",
    "FLOWJOBS_REAP_INTERVAL": "0.2",
}
TRACKED = {"name": "tracked", "alias": "tracked", "handler": "support.handlers:tracked"}


async def test_parallel_limit_holds_across_three_worker_processes(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env(handler_prefixes=["support"])
    space, key = await env.space_with_key("s", parallel_limit=2)
    await env.push(space, TRACKED)
    counter = tmp_path / "counter"
    workers = [
        running(
            db_url, "worker", "--concurrency", "1", log_dir=tmp_path, name=f"w{i}", extra_env=FAST
        )
        for i in range(3)
    ]
    with workers[0] as w0, workers[1] as w1, workers[2] as w2:
        for w in (w0, w1, w2):  # all three are polling before the first job exists
            await asyncio.wait_for(started(w), 30)
        jobs = [
            await env.manager.start(key, "tracked", None, {"counter": str(counter), "seconds": 0.2})
            for _ in range(24)
        ]
        for job in jobs:
            done = await wait_state(env, key, job.id, JobState.COMPLETED, JobState.ERROR)
            assert done.state is JobState.COMPLETED, done  # type: ignore[attr-defined]
        logs = [line for w in (w0, w1, w2) for line in w.log_lines()]
    claims = [line for line in logs if line.get("action") == "claim"]
    assert sorted(c["jobId"] for c in claims) == sorted(j.id for j in jobs)  # once each
    assert max(c["runningInSpace"] for c in claims) <= 2
    observed = [int(n) for n in counter.read_text().split()]
    # Each process runs one job at a time, so reaching 2 means two processes
    # ran jobs of the space at once: the limit was reached across processes,
    # and never passed.
    assert max(observed) == 2


async def test_killed_worker_jobs_end_as_zombie(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env()
    space, key = await env.space_with_key("s")
    await env.push(space, flow("long", 60))
    await env.push(space, flow("quick", 0))
    job = await env.manager.start(key, "long", None, {})
    lease = FAST | {"FLOWJOBS_LEASE_SECONDS": "1"}
    with running(db_url, "worker", log_dir=tmp_path, name="victim", extra_env=lease) as victim:
        await wait_state(env, key, job.id, JobState.RUNNING)
        os.kill(victim.process.pid, signal.SIGKILL)
        assert victim.process.wait(timeout=10) == -signal.SIGKILL
    with running(db_url, "worker", log_dir=tmp_path, name="survivor", extra_env=lease):
        zombie = await wait_state(env, key, job.id, JobState.ERROR)
        assert zombie.code is JobStatusCode.ZOMBIE_PROCESS  # type: ignore[attr-defined]
        after = await env.manager.start(key, "quick", None, {"still": "working"})
        completed = await wait_state(env, key, after.id, JobState.COMPLETED)
        assert completed.output == [{"still": "working"}]  # type: ignore[attr-defined]


async def test_sigterm_finishes_short_jobs_releases_long_ones_and_loses_none(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env()
    space, key = await env.space_with_key("s", parallel_limit=10)
    await env.push(space, flow("short", 1.0))
    await env.push(space, flow("long", 60))
    short = await env.manager.start(key, "short", None, {}, priority=10)
    long = await env.manager.start(key, "long", None, {}, priority=9)
    queued = await env.manager.start(key, "short", None, {"n": 3}, priority=0)
    grace = FAST | {"FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "2"}
    with running(
        db_url, "worker", "--concurrency", "2", log_dir=tmp_path, name="w", extra_env=grace
    ) as worker:
        await wait_state(env, key, short.id, JobState.RUNNING)
        await wait_state(env, key, long.id, JobState.RUNNING)
        assert worker.stop(signal.SIGTERM, timeout=20) == 0
    assert (await env.manager.info(key, short.id)).state is JobState.COMPLETED
    released = await env.manager.info(key, long.id)
    assert (released.state, released.code) == (JobState.CANCELED, JobStatusCode.JOB_SYSTEM_CANCELED)
    assert "shut down" in released.message
    assert (await env.manager.info(key, queued.id)).state is JobState.WAITING
    with running(
        db_url, "worker", "--burst", log_dir=tmp_path, name="burst", extra_env=FAST
    ) as burst:
        assert burst.process.wait(timeout=30) == 0  # exits by itself once the queue is empty
    drained = await env.manager.info(key, queued.id)
    assert drained.state is JobState.COMPLETED and drained.output == [{"n": 3}]
