"""When a failed delivery is tried again: exponential backoff with jitter,
within a retry window (about a day by default)."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from flowjobs.config import Settings


def retry_delay(
    attempt: int, settings: Settings, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1 for the
    first): first_delay * factor**(attempt - 1), at most max_delay, varied at
    random by up to +-jitter so that many failed deliveries do not come back
    in step."""
    try:
        grown = settings.webhook_retry_first_delay * settings.webhook_retry_factor ** (attempt - 1)
    except OverflowError:
        grown = settings.webhook_retry_max_delay
    base = min(settings.webhook_retry_max_delay, grown)
    jitter = settings.webhook_retry_jitter
    return base * (1 - jitter + 2 * jitter * rand())


def next_attempt_at(
    attempt: int,
    retry_since: datetime,
    now: datetime,
    settings: Settings,
    rand: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again after failed attempt ``attempt``; None once that
    would fall after the retry window (``retry_since`` + give-up time)."""
    at = now + timedelta(seconds=retry_delay(attempt, settings, rand))
    if at > retry_since + timedelta(seconds=settings.webhook_give_up_seconds):
        return None
    return at


def schedule(settings: Settings, most: int = 10_000) -> list[float]:
    """Seconds after the first attempt at which later attempts start (at most
    ``most`` of them), without jitter or time spent sending (docs and tests)."""
    fixed = settings.model_copy(update={"webhook_retry_jitter": 0.0})
    times: list[float] = []
    elapsed = 0.0
    attempt = 1
    while len(times) < most:
        elapsed += retry_delay(attempt, fixed)
        if elapsed > settings.webhook_give_up_seconds:
            return times
        times.append(elapsed)
        attempt += 1
    return times
