"""A cancel reaches a Python handler that swallows CancelledError (issue 17,
point 8): the worker cancels its task again until it ends, and a flow that
never stops is recorded CANCELED after FLOWJOBS_CANCEL_GRACE_SECONDS anyway,
its slot in the space free. In-process worker, real database (both)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowjobs.domain import JobState, JobStatusCode
from flowjobs.worker import Worker
from support.env import Env, MakeEnv
from support.waiting import wait_state

GRACE = 2.0
SWALLOWS_ONE = {"name": "one", "alias": "one", "handler": "support.handlers:swallows_one_cancel"}
NEVER_STOPS = {
    "name": "never",
    "alias": "never",
    "handler": "support.handlers:never_stops_on_cancel",
}


@pytest.fixture
async def env(make_env: MakeEnv) -> Env:
    return await make_env(
        handler_prefixes=["support"],
        cancel_poll_interval=0.05,
        cancel_grace_seconds=GRACE,
        poll_interval=0.05,
    )


@pytest.fixture
async def worker(env: Env) -> AsyncIterator[Worker]:
    worker = Worker(env.manager, env.settings, concurrency=4)
    worker.start()
    yield worker
    await worker.shutdown(grace=0)


async def _running(env: Env, flow: dict[str, Any], limit: int = 1, **input: Any) -> Any:
    space, key = await env.space_with_key(str(flow["alias"]), parallel_limit=limit)
    await env.push(space, flow)
    job = await env.manager.start(key, str(flow["alias"]), None, input)
    await wait_state(env, key, job.id, JobState.RUNNING, timeout=15)
    return key, job


async def test_a_handler_that_swallows_one_cancel_is_canceled_again(
    env: Env, worker: Worker
) -> None:
    key, job = await _running(env, SWALLOWS_ONE, seconds=30)
    asked = time.monotonic()
    await env.manager.cancel(key, job.id)

    ended: Any = await wait_state(env, key, job.id, JobState.CANCELED, timeout=10)

    assert ended.code is JobStatusCode.JOB_USER_CANCELED
    assert time.monotonic() - asked < GRACE  # the second cancel stopped it, not the grace
    assert job.id not in worker.running and not worker._abandoned  # its task ended


async def test_a_handler_that_never_stops_ends_canceled_after_the_grace_period(
    env: Env, worker: Worker
) -> None:
    key, job = await _running(env, NEVER_STOPS, seconds=8)
    asked = time.monotonic()
    await env.manager.cancel(key, job.id)

    ended: Any = await wait_state(env, key, job.id, JobState.CANCELED, timeout=7)

    waited = time.monotonic() - asked
    assert GRACE <= waited < 8  # after the grace period, long before the flow stops
    assert ended.code is JobStatusCode.JOB_USER_CANCELED
    assert job.id not in worker.running
    assert len(worker._abandoned) == 1  # still canceled at every watch; still a worker slot
    assert worker._free_slots() == worker.concurrency - 1
    # The space's slot is free: its next job runs (on this worker's other slots).
    second = await env.manager.start(key, "never", None, {"seconds": 0.1})
    done = await wait_state(env, key, second.id, JobState.COMPLETED, timeout=10)
    assert done is not None
    [abandoned] = worker._abandoned
    await asyncio.wait([abandoned], timeout=10)  # it ends by itself after 8 s
    assert abandoned.done() and not worker._abandoned
