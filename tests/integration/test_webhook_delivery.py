"""Delivery by the dispatcher of a real (in-process) worker to a real receiver
on 127.0.0.1, on SQLite and PostgreSQL: signatures the receiver can check (in
Python and as the JavaScript SDK does), retries until a 2xx, a receiver that is
down for a while, a slow receiver beside a fast one, leases of a dead
dispatcher, two dispatchers at once, giving up, redelivery and test events."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest

from flowjobs.domain import DeliveryState, JobState, WebhookDelivery
from flowjobs.schemas import Job
from flowjobs.store.webhooks import LOST_ATTEMPT
from flowjobs.webhooks import WebhookService
from flowjobs.webhooks.jsontext import dumps
from flowjobs.worker import Worker
from support import jscheck
from support.env import Env, MakeEnv, flow
from support.receiver import Receiver
from support.webhooks import FAST_WEBHOOKS, create, eventually, service

FAILING = {
    "name": "failing",
    "alias": "failing",
    "nodes": [{"id": "stop", "type": "fail", "messageText": "no luck"}],
}
# Dialect-free logic (concurrency bounds, retry window, test events): SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@asynccontextmanager
async def worker(env: Env, hooks: WebhookService) -> AsyncIterator[Worker]:
    running = Worker(env.manager, env.settings, webhooks=hooks)
    running.start()
    try:
        yield running
    finally:
        await running.shutdown()


async def _setup(make_env: MakeEnv, **settings: Any) -> tuple[Env, WebhookService, Any, Any]:
    env = await make_env(**(FAST_WEBHOOKS | settings))
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    return env, service(env), space, key


async def _settled(hooks: WebhookService, space_id: str, webhook_id: str, count: int) -> bool:
    found = await hooks.deliveries(space_id, webhook_id)
    return len(found) == count and all(d.state is not DeliveryState.PENDING for d in found)


async def test_events_are_signed_and_survive_javascripts_reparse(
    make_env: MakeEnv, receiver: Receiver
) -> None:
    env, hooks, space, key = await _setup(make_env)
    await env.push(space, FAILING)
    hook = await create(hooks, space.id, receiver.url, "crm")
    tricky = {"n": [1.0, 2.5, 1e21, 1e-7, -0.0], "s": "é✓ 😀 \u2028", "10": 1, "2": {"b": 1}}
    canceled = await env.manager.start(key, "f", None, {}, correlation_id="order-9")
    await env.manager.cancel(key, canceled.id)
    done = await env.manager.start(key, "f", None, tricky)
    failed = await env.manager.start(key, "failing", None, {})
    async with worker(env, hooks):
        await eventually(lambda: _settled(hooks, space.id, hook.webhook.id, 3))

    received = {r.event["data"]["jobId"]: r for r in receiver.accepted()}
    assert set(received) == {canceled.id, done.id, failed.id}
    expected_type = {canceled.id: "JOB.CANCELED", done.id: "JOB.COMPLETED", failed.id: "JOB.ERROR"}
    for job_id, request in received.items():
        job = await env.manager.info(key, job_id)
        event = request.event
        assert request.signed_with(hook.secret)
        assert request.headers["content-type"] == "application/json"
        assert event["eventType"] == expected_type[job_id]
        # exactly what GET /job/{jobId} answers, as JavaScript reads it
        assert event["data"] == json.loads(dumps(Job.from_record(job).model_dump(mode="json")))
        meta = event["metadata"]
        assert meta["webhookAlias"] == "crm" and meta["attempt"] == 1
        assert meta["correlationId"] == job.correlation_id and ISO_MS.match(meta["timestamp"])
    assert received[canceled.id].event["metadata"]["correlationId"] == "order-9"
    assert received[done.id].event["data"]["output"] == [json.loads(dumps(tricky))]

    checks = jscheck.validate([(r.body, r.signature, hook.secret) for r in received.values()])
    assert checks == [{"valid": True, "sameText": True}] * 3
    for delivery in await hooks.deliveries(space.id, hook.webhook.id):
        assert delivery.state is DeliveryState.DELIVERED and delivery.delivered_at is not None
        [attempt] = delivery.attempt_log
        assert attempt.status_code == 200 and attempt.error is None
        assert attempt.latency_ms is not None and attempt.latency_ms >= 0


async def test_a_receiver_answering_500_three_times_gets_the_event_on_the_fourth_attempt(
    make_env: MakeEnv, receiver: Receiver
) -> None:
    env, hooks, space, key = await _setup(make_env)
    hook = await create(hooks, space.id, receiver.url, "flaky")
    receiver.answer(500, 500, 500)
    job = await env.manager.start(key, "f", None, {"x": 1})
    async with worker(env, hooks):
        await eventually(lambda: _settled(hooks, space.id, hook.webhook.id, 1))

    [delivery] = await hooks.job_deliveries(space.id, job.id)
    assert delivery.state is DeliveryState.DELIVERED and delivery.attempts == 4
    log = delivery.attempt_log
    assert [a.attempt for a in log] == [1, 2, 3, 4]
    assert [a.status_code for a in log] == [500, 500, 500, 200]
    assert all(a.error and a.error.startswith("HTTP 500: ") for a in log[:3])
    assert log[3].error is None and delivery.last_status == 200
    # the backoff: 0.05 s, then 0.1 s, then 0.2 s between attempts
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(log)]
    assert all(round(gap, 2) >= pause for gap, pause in zip(gaps, (0.05, 0.1, 0.2), strict=True))
    requests = receiver.requests()
    assert [r.event["metadata"]["attempt"] for r in requests] == [1, 2, 3, 4]
    assert {r.event["metadata"]["deliveryId"] for r in requests} == {delivery.id}
    assert all(r.signed_with(hook.secret) for r in requests)


async def test_a_receiver_down_for_a_while_gets_every_event_when_it_is_back(
    make_env: MakeEnv, receiver: Receiver
) -> None:
    env, hooks, space, key = await _setup(make_env)
    hook = await create(hooks, space.id, receiver.url, "sometimes")
    receiver.stop()  # connections are refused
    jobs = [await env.manager.start(key, "f", None, {"i": i}) for i in range(3)]

    async def all_failed_twice() -> bool:
        found = await hooks.deliveries(space.id, hook.webhook.id)
        return len(found) == 3 and all(len(d.attempt_log) >= 2 for d in found)

    async with worker(env, hooks):
        await eventually(all_failed_twice)
        receiver.start()  # the same port again
        await eventually(lambda: _settled(hooks, space.id, hook.webhook.id, 3))

    found = await hooks.deliveries(space.id, hook.webhook.id)
    assert {d.state for d in found} == {DeliveryState.DELIVERED}
    for delivery in found:
        assert "ConnectError" in (delivery.attempt_log[0].error or "")
    assert sorted(r.event["data"]["jobId"] for r in receiver.accepted()) == sorted(
        j.id for j in jobs
    )


@SQLITE_ONLY
async def test_a_slow_receiver_does_not_hold_up_a_fast_one(make_env: MakeEnv) -> None:
    env, hooks, space, key = await _setup(
        make_env,
        webhook_concurrency_per_endpoint=1,
        webhook_timeout_seconds=5.0,
        webhook_lease_seconds=10.0,
    )
    slow, fast = Receiver().start(), Receiver().start()
    slow.delay = 3.0
    try:
        slow_id = (await create(hooks, space.id, slow.url, "slow")).webhook.id
        fast_id = (await create(hooks, space.id, fast.url, "fast")).webhook.id
        for i in range(3):
            await env.manager.start(key, "f", None, {"i": i})
        async with worker(env, hooks) as running:
            await eventually(lambda: _settled(hooks, space.id, fast_id, 3), timeout=2.5)
            # one send at a time to the slow one, and it has not answered yet
            assert slow.requests() == []
            assert running.dispatcher is not None
            assert running.dispatcher.per_webhook[slow_id] == 1
        assert len(fast.accepted()) == 3
    finally:
        slow.stop()
        fast.stop()


async def test_a_delivery_leased_by_a_dead_dispatcher_is_sent_after_its_lease(
    make_env: MakeEnv, receiver: Receiver
) -> None:
    env, hooks, space, key = await _setup(
        make_env, webhook_timeout_seconds=0.5, webhook_lease_seconds=1.0
    )
    hook = await create(hooks, space.id, receiver.url, "crm")
    job = await env.manager.start(key, "f", None, {})
    [claimed] = await env.manager.claim("w", 1)
    await env.complete(claimed.job.id, "w", {})
    [leased] = await hooks.delivery.claim("a-dead-worker", limit=5, room={})  # and never sends
    assert await hooks.delivery.claim("another", limit=5, room={}) == []  # held by its lease
    async with worker(env, hooks):
        await eventually(lambda: _settled(hooks, space.id, hook.webhook.id, 1))
    [delivery] = await hooks.job_deliveries(space.id, job.id)
    assert delivery.id == leased.id and delivery.state is DeliveryState.DELIVERED
    assert [(a.attempt, a.status_code, a.error) for a in delivery.attempt_log] == [
        (1, None, LOST_ATTEMPT),
        (2, 200, None),
    ]
    assert [r.event["metadata"]["attempt"] for r in receiver.requests()] == [2]


async def test_two_dispatchers_never_send_the_same_attempt(
    make_env: MakeEnv, receiver: Receiver
) -> None:
    env, hooks, space, key = await _setup(make_env)
    other = await make_env(**FAST_WEBHOOKS)  # its own pool and events: another "process"
    hook = await create(hooks, space.id, receiver.url, "crm")
    jobs = [await env.manager.start(key, "f", None, {"i": i}) for i in range(8)]
    async with worker(env, hooks), worker(other, service(other)):
        await eventually(lambda: _settled(hooks, space.id, hook.webhook.id, 8))
    requests = receiver.requests()
    assert sorted(r.event["data"]["jobId"] for r in requests) == sorted(j.id for j in jobs)
    assert {r.event["metadata"]["attempt"] for r in requests} == {1}


async def _state(hooks: WebhookService, space_id: str, delivery_id: str) -> WebhookDelivery:
    [found] = [d for d in await hooks.store.deliveries(space_id, limit=50) if d.id == delivery_id]
    return found


@SQLITE_ONLY
async def test_give_up_redeliver_and_test_events(make_env: MakeEnv, receiver: Receiver) -> None:
    env, hooks, space, key = await _setup(make_env, webhook_give_up_seconds=0.5)
    hook = await create(hooks, space.id, receiver.url, "crm")
    test = await hooks.send_test(space.id, "crm")
    assert test.state is DeliveryState.DELIVERED and test.event_type == "WEBHOOK.TEST"
    [request] = receiver.requests()
    assert request.signed_with(hook.secret) and request.event["eventType"] == "WEBHOOK.TEST"

    receiver.answer(*[500] * 20)
    job = await env.manager.start(key, "f", None, {})
    async with worker(env, hooks):

        async def failed() -> WebhookDelivery | None:
            found = await hooks.job_deliveries(space.id, job.id)
            return found[0] if found and found[0].state is DeliveryState.FAILED else None

        given_up = await eventually(failed)
        assert 2 <= given_up.attempts == len(given_up.attempt_log)
        receiver.script.clear()
        again = await hooks.redeliver(space.id, given_up.id)
        assert again.state is DeliveryState.PENDING

        async def delivered() -> bool:
            current = await _state(hooks, space.id, given_up.id)
            return current.state is DeliveryState.DELIVERED

        await eventually(delivered)
    final = await _state(hooks, space.id, given_up.id)
    assert final.attempts == given_up.attempts + 1  # numbering goes on, same id
    assert receiver.accepted()[-1].event["metadata"]["attempt"] == final.attempts

    receiver.stop()
    failed_test = await hooks.send_test(space.id, hook.webhook.id)
    assert failed_test.state is DeliveryState.FAILED  # a test is tried once
    [attempt] = failed_test.attempt_log
    assert attempt.status_code is None and "ConnectError" in (attempt.error or "")
    assert (await env.manager.info(key, job.id)).state is JobState.COMPLETED

    # retention: finished deliveries go, with their attempts
    assert await hooks.delivery.prune(timedelta(0)) == 3
    assert await hooks.deliveries(space.id, hook.webhook.id) == []
