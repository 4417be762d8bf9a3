"""Webhooks in tests: settings with short retry delays, 127.0.0.1 allowed as a
target, a fixed encryption key; the service over an Env; bounded waits."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from flowjobs.domain import WebhookEvent
from flowjobs.schemas import WebhookCreate
from flowjobs.store.webhooks import WebhookStore
from flowjobs.webhooks import CreatedWebhook, WebhookService
from support.env import Env

T = TypeVar("T")

# A Fernet key for tests only (FLOWJOBS_SECRET_KEY).
TEST_SECRET_KEY = "zf87W2SjFxWZr0LWsy7o2_smmUfemfn4WnI3FfjBVZQ="

# Settings (as keyword arguments of Settings) for quick webhook tests.
FAST_WEBHOOKS: dict[str, Any] = {
    "secret_key": TEST_SECRET_KEY,
    "webhook_allow": ["127.0.0.1"],  # opt the test receiver in, as rest tests do
    "webhook_retry_first_delay": 0.05,
    "webhook_retry_factor": 2.0,
    "webhook_retry_max_delay": 0.2,
    "webhook_retry_jitter": 0.0,
    "webhook_poll_interval": 0.1,
    "webhook_timeout_seconds": 2.0,
    "webhook_lease_seconds": 3.0,
    "poll_interval": 0.05,
    "cancel_poll_interval": 0.05,
    "reap_interval": 0.2,
    "shutdown_grace_seconds": 0,
}


def as_env_vars(settings: dict[str, Any]) -> dict[str, str]:
    """The same settings as FLOWJOBS_* environment variables (for processes)."""
    return {
        f"FLOWJOBS_{name.upper()}": value if isinstance(value, str) else json.dumps(value)
        for name, value in settings.items()
    }


def service(env: Env) -> WebhookService:
    return WebhookService(
        WebhookStore(env.store),
        env.settings,
        jobs=env.manager,
        wake=env.manager.events.notify_webhook,
    )


async def create(
    webhooks: WebhookService,
    space_id: str,
    url: str,
    alias: str,
    *,
    events: list[WebhookEvent] | None = None,
    rules: str | list[str] = "all",
    enabled: bool = True,
) -> CreatedWebhook:
    spec = WebhookCreate(
        url=url,
        alias=alias,
        enabled=enabled,
        events=events or list(WebhookEvent),
        rules=rules,  # type: ignore[arg-type]
    )
    return await webhooks.create(space_id, spec)


async def eventually(
    probe: Callable[[], Awaitable[T | None]], timeout: float = 20, interval: float = 0.05
) -> T:
    """Await ``probe`` until it returns something truthy (bounded in time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
