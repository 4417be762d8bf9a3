"""Issue 17 point 2: a flow that holds the event loop longer than the lease
does not cost other spaces' jobs their leases. Heartbeats are renewed from a
thread with its own event loop and database connection
(worker/heartbeats.py), so on PostgreSQL another process's reaper, running
all along, finds nothing to reap, and every job completes instead of ending
ERROR/ZOMBIE_PROCESS.

On SQLite a hold can suspend a write transaction of the same process (a
claim, say), and SQLite has one writer: every write waits, the lease
thread's too. There the worker renews its own leases before its reaper
runs, so a single-process deployment (SQLite's) still loses no job; a
second process reaping the same file could (see docs/operations.md)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from flowjobs.domain import JobState
from flowjobs.manager import JobManager, LocalEvents
from flowjobs.store import SqlStore
from flowjobs.worker import Worker
from support.env import Env, MakeEnv, flow

LEASE = 0.6  # renewed every 0.2 s
BLOCK = 2.0  # more than three leases


class ForeignReaper:
    """Another process's reaper: a thread with its own loop and store that
    reaps expired leases every 50 ms while the main loop is blocked."""

    def __init__(self, env: Env, *, active: bool = True) -> None:
        self.active = active  # False: no reaper (SQLite's single process)
        self.settings = env.settings
        self.url = env.settings.database_url
        self.reaped = 0
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    def __enter__(self) -> ForeignReaper:
        if self.active:
            self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        if self.active:
            self._thread.join(10)

    async def _run(self) -> None:
        store = SqlStore(self.url)
        manager = JobManager(store, self.settings, LocalEvents())
        try:
            deadline = time.monotonic() + 30  # bounded whatever happens
            while not self._stop.is_set() and time.monotonic() < deadline:
                self.reaped += await manager.reap()
                self.rounds += 1
                await asyncio.sleep(0.05)
        finally:
            await store.close()


async def wait_until_ended(env: Env, key: Any, job_id: str, seconds: float = 20) -> Any:
    for _ in range(int(seconds / 0.05)):
        job = await env.manager.info(key, job_id)
        if job.state in (JobState.COMPLETED, JobState.ERROR, JobState.CANCELED):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


async def test_a_flow_blocking_the_loop_past_the_lease_costs_no_job_its_lease(
    make_env: MakeEnv,
) -> None:
    env = await make_env(
        lease_seconds=LEASE, reap_interval=0.1, handler_prefixes=["support"], concurrency=4
    )
    hog_space, hog_key = await env.space_with_key("hog")
    other_space, other_key = await env.space_with_key("other")
    hog_flow = {"name": "hog", "alias": "hog", "handler": "support.handlers:hog_the_loop"}
    await env.push(hog_space, hog_flow)
    await env.push(other_space, flow("patient", seconds=0.3))

    worker = Worker(env.manager, env.settings)
    worker.start()
    try:
        other = await env.manager.start(other_key, "patient", None, {})
        for _ in range(200):  # the other space's job runs before the loop is blocked
            if other.id in worker.running:
                break
            await asyncio.sleep(0.01)
        assert other.id in worker.running
        with ForeignReaper(env, active=not env.store.is_sqlite) as reaper:
            hog = await env.manager.start(hog_key, "hog", None, {"seconds": BLOCK})
            hog_ended = await wait_until_ended(env, hog_key, hog.id)
            other_ended = await wait_until_ended(env, other_key, other.id)
        assert reaper.reaped == 0
    finally:
        await worker.shutdown(grace=5)

    if not env.store.is_sqlite:
        assert reaper.rounds > 10  # it ran while the loop was blocked
        assert worker._leases is not None and worker._leases.beats >= 3
    assert other_ended.state is JobState.COMPLETED, (other_ended.code, other_ended.message)
    assert hog_ended.state is JobState.COMPLETED, (hog_ended.code, hog_ended.message)
    assert hog_ended.output == [{"blocked": BLOCK}]


CATASTROPHIC = {
    "name": "regex",
    "alias": "regex",
    "nodes": [{"id": "check", "type": "end", "output": "$contains(input.s, /^(a+)+$/)"}],
}


async def test_the_catastrophic_regex_answers_at_once_and_no_lease_is_lost(
    make_env: MakeEnv,
) -> None:
    # Found: this regex on 29 "a"s and a "!" held the loop for 40 s, past
    # the 1 s expression timeout (Python's re runs in C); every running job
    # of every space lost its lease. On RE2 it is linear: the job completes
    # (the string does not match) at once.
    env = await make_env(lease_seconds=LEASE, reap_interval=0.1, concurrency=4)
    regex_space, regex_key = await env.space_with_key("regex")
    other_space, other_key = await env.space_with_key("other")
    await env.push(regex_space, CATASTROPHIC)
    await env.push(other_space, flow("patient", seconds=1.0))

    worker = Worker(env.manager, env.settings)
    worker.start()
    try:
        with ForeignReaper(env) as reaper:
            other = await env.manager.start(other_key, "patient", None, {})
            jobs = [
                await env.manager.start(regex_key, "regex", None, {"s": s})
                for s in ("a" * 29 + "!", "a" * 10_000)
            ]
            ended = [await wait_until_ended(env, regex_key, job.id) for job in jobs]
            other_ended = await wait_until_ended(env, other_key, other.id)
        assert reaper.reaped == 0
    finally:
        await worker.shutdown(grace=5)

    assert [(job.state, job.output) for job in ended] == [
        (JobState.COMPLETED, [False]),
        (JobState.COMPLETED, [True]),
    ]
    assert other_ended.state is JobState.COMPLETED, (other_ended.code, other_ended.message)
