"""Real ``flowjobs worker`` processes on PostgreSQL: a worker killed while its
receiver is down loses no event (the next worker delivers every one once the
receiver is back), and a delivery queued by another process wakes an idle
dispatcher through NOTIFY, long before its poll."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowjobs.domain import DeliveryState, JobState
from support.env import MakeEnv, flow
from support.processes import running
from support.receiver import Receiver
from support.waiting import started, wait_state
from support.webhooks import FAST_WEBHOOKS, as_env_vars, create, eventually, service


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL: several hosts' workers and NOTIFY are its deployment."""
    return pg_url


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started_receiver = Receiver().start()
    yield started_receiver
    started_receiver.stop()


async def test_a_killed_worker_loses_no_event_and_notify_wakes_the_next(
    make_env: MakeEnv, db_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    env = await make_env(**FAST_WEBHOOKS)
    hooks = service(env)
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    hook = await create(hooks, space.id, receiver.url, "crm")
    receiver.stop()  # down: every attempt is refused
    settings_env = as_env_vars(FAST_WEBHOOKS)

    with running(db_url, "worker", log_dir=tmp_path, name="w1", extra_env=settings_env) as w1:
        await asyncio.wait_for(started(w1), 30)
        jobs = [await env.manager.start(key, "f", None, {"i": i}) for i in range(4)]
        for job in jobs:
            await wait_state(env, key, job.id, JobState.COMPLETED)

        async def each_tried() -> bool:
            found = await hooks.deliveries(space.id, hook.webhook.id)
            return len(found) == 4 and all(d.attempt_log for d in found)

        await eventually(each_tried)
        assert w1.stop(signal.SIGKILL) == -signal.SIGKILL

    receiver.start()  # back, on the same port
    slow_poll = settings_env | {"FLOWJOBS_WEBHOOK_POLL_INTERVAL": "30"}
    with running(db_url, "worker", log_dir=tmp_path, name="w2", extra_env=slow_poll) as w2:
        await asyncio.wait_for(started(w2), 30)

        async def all_delivered() -> bool:
            found = await hooks.deliveries(space.id, hook.webhook.id)
            return len(found) == 4 and {d.state for d in found} == {DeliveryState.DELIVERED}

        await eventually(all_delivered)
        accepted = receiver.accepted()
        assert sorted(r.event["data"]["jobId"] for r in accepted) == sorted(j.id for j in jobs)
        assert all(r.signed_with(hook.secret) for r in accepted)

        # Queued by this process; the idle worker polls every 30 s, but the
        # NOTIFY sent with the change wakes it at once.
        [first, *_] = await hooks.deliveries(space.id, hook.webhook.id)
        asked = time.monotonic()
        await hooks.redeliver(space.id, first.id)
        await eventually(lambda: _accepted(receiver, 5), timeout=15)
        assert time.monotonic() - asked < 10
        assert receiver.accepted()[-1].event["metadata"]["deliveryId"] == first.id


async def _accepted(receiver: Receiver, count: int) -> bool:
    return len(receiver.accepted()) >= count
