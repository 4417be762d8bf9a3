"""The outbox on real SQLite and PostgreSQL: a job's end writes one event per
matching webhook in the same transaction, so an event exists if and only if
the state changed; and the webhooks of a space through the service."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from flowjobs import domain
from flowjobs.config import Settings
from flowjobs.domain import DeliveryState, JobState, WebhookEvent
from flowjobs.errors import (
    AlreadyExistsError,
    InvalidWebhookError,
    InvalidWebhookUrlError,
    WebhookNotFoundError,
)
from flowjobs.runtime import build_services
from flowjobs.schemas import WebhookUpdate
from flowjobs.store.tables import webhooks as webhooks_table
from flowjobs.webhooks import WebhookService
from support.env import Env, MakeEnv, flow
from support.webhooks import FAST_WEBHOOKS, create, service

URL = "http://127.0.0.1:9/hook"  # never called here: nothing dispatches
COMPLETED, ERROR, CANCELED = WebhookEvent


@pytest.fixture
async def hooks_env(make_env: MakeEnv) -> tuple[Env, WebhookService]:
    env = await make_env(**FAST_WEBHOOKS)
    return env, service(env)


async def _events_of(hooks: WebhookService, space_id: str, job_id: str) -> list[tuple[str, str]]:
    found = await hooks.job_deliveries(space_id, job_id)
    return sorted((d.webhook_id, d.event_type) for d in found)


async def test_a_job_end_writes_one_event_per_matching_enabled_webhook(
    hooks_env: tuple[Env, WebhookService],
) -> None:
    env, hooks = hooks_env
    space, key = await env.space_with_key("s")
    f = await env.push(space, flow("f"))
    await env.push(space, flow("g"))
    every = await create(hooks, space.id, URL, "every")
    only_f = await create(hooks, space.id, URL, "only-f", events=[COMPLETED], rules=["f"])
    await create(hooks, space.id, URL, "only-g", rules=["g"])
    await create(hooks, space.id, URL, "errors", events=[ERROR])
    await create(hooks, space.id, URL, "off", enabled=False)
    other_space, _ = await env.space_with_key("other")
    await create(hooks, other_space.id, URL, "elsewhere")

    job = await env.manager.start(key, "f", None, {})
    assert await _events_of(hooks, space.id, job.id) == []  # nothing before the end
    [claimed] = await env.manager.claim("w", 1)
    assert await env.complete(claimed.job.id, "w", {"ok": True}) is JobState.COMPLETED

    assert await _events_of(hooks, space.id, job.id) == sorted(
        [(every.webhook.id, "JOB.COMPLETED"), (only_f.webhook.id, "JOB.COMPLETED")]
    )
    [delivery, _] = await hooks.job_deliveries(space.id, job.id)
    assert delivery.state is DeliveryState.PENDING and delivery.attempts == 0
    assert f.base_id == only_f.webhook.base_ids[0]  # type: ignore[index]


async def test_cancel_racing_complete_or_fail_leaves_exactly_one_event(
    hooks_env: tuple[Env, WebhookService],
) -> None:
    env, hooks = hooks_env
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    await create(hooks, space.id, URL, "every")
    jobs = [await env.manager.start(key, "f", None, {}) for _ in range(6)]
    claimed = await env.manager.claim("w", 6)
    assert len(claimed) == 6
    error = domain.error_detail(domain.execution_error("boom"))
    for index, job in enumerate(jobs):
        # three-way race: the worker's end, another end, and a user's cancel
        ending = (
            env.complete(job.id, "w", 1)
            if index % 2
            else env.fail(job.id, "w", domain.execution_error("boom"), error)
        )
        await asyncio.gather(
            ending,
            env.complete(job.id, "w", 2),
            env.manager.cancel(key, job.id),
            return_exceptions=True,
        )
        final = await env.manager.info(key, job.id)
        if final.state is JobState.CANCELING:  # the cancel won: the worker stops it
            await env.stopped(job.id, "w")
            final = await env.manager.info(key, job.id)
        events = await hooks.job_deliveries(space.id, job.id)
        assert [e.event_type for e in events] == [f"JOB.{final.state.value}"], final


async def test_cancel_all_writes_one_event_per_canceled_job_and_only_for_listeners(
    hooks_env: tuple[Env, WebhookService],
) -> None:
    env, hooks = hooks_env
    space, key = await env.space_with_key("s")
    f = await env.push(space, flow("f"))
    await env.push(space, flow("g"))
    await create(hooks, space.id, URL, "completions", events=[COMPLETED])
    await create(hooks, space.id, URL, "off", events=[CANCELED], enabled=False)
    g_cancels = await create(hooks, space.id, URL, "g-cancels", events=[CANCELED], rules=["g"])
    for _ in range(5):
        await env.manager.start(key, "f", None, {})
    # nobody listens to cancels of f: the update skips RETURNING and writes nothing
    result = await env.manager.cancel_all_of_rule(key, "f", str(f.version), include_running=False)
    assert result.counts.canceled == 5
    for hook in await hooks.list_webhooks(space.id):
        assert await hooks.deliveries(space.id, hook.id) == []

    started = [await env.manager.start(key, "g", None, {}) for _ in range(25)]
    counts = await env.manager.cancel_all_in_space(key, space.id, include_running=False)
    assert counts.canceled == 25
    found = await hooks.deliveries(space.id, g_cancels.webhook.id, limit=500)
    assert sorted(d.job_id or "" for d in found) == sorted(j.id for j in started)
    assert {d.event_type for d in found} == {"JOB.CANCELED"}
    again = await env.manager.cancel_all_in_space(key, space.id, include_running=False)
    assert again.canceled == 0  # nothing changed, so nothing more is written
    assert len(await hooks.deliveries(space.id, g_cancels.webhook.id, limit=500)) == 25
    for hook in await hooks.list_webhooks(space.id):
        if hook.id != g_cancels.webhook.id:
            assert await hooks.deliveries(space.id, hook.id) == []


async def test_webhooks_of_a_space_create_update_delete(
    hooks_env: tuple[Env, WebhookService],
) -> None:
    env, hooks = hooks_env
    space, key = await env.space_with_key("s")
    f = await env.push(space, flow("f"))
    created = await create(hooks, space.id, URL, "crm", rules=["f"])
    assert created.webhook.base_ids == (f.base_id,)
    # the secret is stored encrypted, never as itself
    async with env.store.db.read() as conn:
        stored = (await conn.execute(sa.select(webhooks_table.c.secret_encrypted))).scalar_one()
    assert created.secret not in stored and hooks.box.decrypt(stored) == created.secret

    with pytest.raises(AlreadyExistsError):
        await create(hooks, space.id, URL, "crm")
    other, _ = await env.space_with_key("other")
    await env.push(other, flow("theirs"))
    with pytest.raises(InvalidWebhookError, match="no rule"):
        await create(hooks, space.id, URL, "x", rules=["theirs"])  # another space's flow
    with pytest.raises(InvalidWebhookError, match="at least one"):
        await create(hooks, space.id, URL, "x", rules=[])
    updated = await hooks.update(
        space.id,
        "crm",
        WebhookUpdate.model_validate({"enabled": False, "rules": "all", "description": "x"}),
    )
    assert (updated.enabled, updated.base_ids, updated.description) == (False, None, "x")
    assert (await hooks.get(space.id, created.webhook.id)).enabled is False
    cleared = await hooks.update(
        space.id, "crm", WebhookUpdate.model_validate({"description": None})
    )
    assert cleared.description is None and cleared.url == URL

    with pytest.raises(WebhookNotFoundError):
        await hooks.get(other.id, created.webhook.id)  # another space's: not found
    with pytest.raises(InvalidWebhookError):
        await hooks.update(space.id, "crm", WebhookUpdate.model_validate({"url": None}))

    await hooks.update(space.id, "crm", WebhookUpdate.model_validate({"enabled": True}))
    job = await env.manager.start(key, "f", None, {})
    await env.manager.cancel(key, job.id)
    assert len(await hooks.job_deliveries(space.id, job.id)) == 1
    await hooks.delete(space.id, "crm")
    assert await hooks.job_deliveries(space.id, job.id) == []  # deliveries go with it
    with pytest.raises(WebhookNotFoundError):
        await hooks.delete(space.id, "crm")


BAD_URLS = [
    ("ftp://127.0.0.1/x", "scheme"),
    ("http:///nohost", "no host"),
    ("http://127.0.0.1:99999/hook", "port"),
    ("http://127.0.0.1:0/hook", "port"),
    ("http://[zz]/hook", "not a valid URL"),
    ("http://10.0.0.1/hook", "not public"),  # private, not allowed
    ("http://[::1]:9/hook", "not public"),  # loopback over IPv6, not allowed
    ("http://localhost.invalid/hook", "resolve"),
]


async def test_bad_urls_are_refused_by_the_ssrf_guard(sqlite_url: str) -> None:
    """The URL checks need no database: SQLite alone, wired as a server is."""
    services = build_services(Settings(database_url=sqlite_url, **FAST_WEBHOOKS))
    try:
        hooks = services.webhooks
        for url, error in BAD_URLS:
            with pytest.raises(InvalidWebhookUrlError, match=error):
                await hooks.check_url(url)
        await hooks.check_url(URL)  # 127.0.0.1 is allowed by the settings
    finally:
        await services.close()
