"""Webhook delivery shared fairly between spaces (issue 17, point 5): one
space's many webhooks to a slow receiver on 127.0.0.1 cannot delay another
space's delivery (found: from 0.1 s to 156 s). A real in-process worker and
dispatcher, real receivers, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace

import pytest

from flowjobs.store.fairness import fit
from flowjobs.webhooks import WebhookService
from flowjobs.worker import Worker
from support.env import Env, MakeEnv, flow
from support.receiver import Receiver
from support.webhooks import FAST_WEBHOOKS, create, eventually, service

SLOW_SECONDS = 3.0
BUSY_WEBHOOKS = 12
SETTINGS = FAST_WEBHOOKS | {
    "webhook_concurrency": 6,
    "webhook_concurrency_per_space": 3,
    "webhook_concurrency_per_endpoint": 2,
    "webhook_timeout_seconds": 5.0,
    "webhook_lease_seconds": 10.0,
}


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    slow, fast = Receiver().start(), Receiver().start()
    slow.delay = SLOW_SECONDS
    yield slow, fast
    slow.stop()
    fast.stop()


@asynccontextmanager
async def worker(env: Env, hooks: WebhookService) -> AsyncIterator[Worker]:
    running = Worker(env.manager, env.settings, webhooks=hooks)
    running.start()
    try:
        yield running
    finally:
        await running.shutdown()


async def test_a_busy_space_does_not_delay_another_spaces_delivery(
    make_env: MakeEnv, receivers: tuple[Receiver, Receiver]
) -> None:
    slow, fast = receivers
    env = await make_env(**SETTINGS)
    hooks = service(env)
    busy, busy_key = await env.space_with_key("busy")
    quiet, quiet_key = await env.space_with_key("quiet")
    for space in (busy, quiet):
        await env.push(space, flow("f"))
    busy_hooks = {
        (await create(hooks, busy.id, slow.url, f"slow-{index}")).webhook.id
        for index in range(BUSY_WEBHOOKS)
    }
    quiet_hook = (await create(hooks, quiet.id, fast.url, "fast")).webhook.id
    for index in range(3):  # 36 deliveries of 3 s each to the slow receiver
        await env.manager.start(busy_key, "f", None, {"i": index})

    async with worker(env, hooks) as running:
        dispatcher = running.dispatcher
        assert dispatcher is not None

        def busy_sends() -> int:
            return sum(1 for d in dispatcher.sending.values() if d.webhook_id in busy_hooks)

        async def holding() -> bool:
            return busy_sends() >= 3

        # The busy space holds its share of the send slots (3 of 6), and no more.
        await eventually(holding, timeout=10)
        job = await env.manager.start(quiet_key, "f", None, {})
        began = time.monotonic()
        await eventually(lambda: _delivered(hooks, quiet.id, quiet_hook), timeout=10)
        waited = time.monotonic() - began
        assert busy_sends() == 3  # still sending to the slow receiver, within its share
    [received] = fast.accepted()
    assert received.event["data"]["jobId"] == job.id
    # The job ran and its event went out while the busy space's 3-s sends
    # still held their slots: before any of them had answered.
    assert waited < SLOW_SECONDS


async def _delivered(hooks: WebhookService, space_id: str, webhook_id: str) -> bool:
    found = await hooks.deliveries(space_id, webhook_id)
    return bool(found) and all(d.state.value == "DELIVERED" for d in found)


def _row(space: str, webhook: str, n: int) -> SimpleNamespace:
    return SimpleNamespace(id=f"{space}-{webhook}-{n}", space_id=space, webhook_id=webhook)


def test_a_claim_serves_spaces_in_turn_within_their_room() -> None:
    """The pick itself (store/webhooks.py): oldest due first within a space,
    one of each space per round, never past a webhook's or a space's room."""
    busy = [_row("busy", f"h{i % 4}", i) for i in range(12)]  # due before the others
    candidates = [*busy, _row("quiet", "q", 0), _row("third", "t", 0), _row("third", "t", 1)]

    picked = fit(candidates, {"h1": 0}, 2, 6, {"third": 1}, 3)

    assert [r.id for r in picked] == [
        "busy-h0-0",
        "quiet-q-0",
        "third-t-0",
        "busy-h2-2",  # h1 has no room; third has room for one only
        "busy-h3-3",  # busy's share of three is used up after this one
    ]
