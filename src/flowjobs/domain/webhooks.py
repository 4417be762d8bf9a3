"""Webhooks of a space, their events and deliveries (the outbox)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowjobs.domain.states import JobState


class WebhookEvent(enum.StrEnum):
    """What a webhook may subscribe to: one event per job that ends."""

    JOB_COMPLETED = "JOB.COMPLETED"
    JOB_ERROR = "JOB.ERROR"
    JOB_CANCELED = "JOB.CANCELED"


EVENT_OF_STATE = {
    JobState.COMPLETED: WebhookEvent.JOB_COMPLETED,
    JobState.ERROR: WebhookEvent.JOB_ERROR,
    JobState.CANCELED: WebhookEvent.JOB_CANCELED,
}
# The event type of a test delivery (POST /api/webhooks/{id}/test); never subscribed to.


TEST_EVENT = "WEBHOOK.TEST"


class DeliveryState(enum.StrEnum):
    PENDING = "PENDING"  # waiting for its next attempt (or being attempted)
    DELIVERED = "DELIVERED"  # final: the receiver answered 2xx
    FAILED = "FAILED"  # final: gave up (retry window over, or a test that failed)


@dataclass(frozen=True)
class Webhook:
    """A webhook of a space. ``base_ids`` is None when it covers every flow."""

    id: str
    space_id: str
    alias: str
    url: str
    enabled: bool
    description: str | None
    events: tuple[WebhookEvent, ...]
    base_ids: tuple[str, ...] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WebhookAttempt:
    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one webhook (a row of the outbox) with its attempts."""

    id: str
    webhook_id: str
    space_id: str
    job_id: str | None
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None
    attempt_log: tuple[WebhookAttempt, ...] = ()


@dataclass(frozen=True)
class DueDelivery:
    """A delivery a dispatcher has just leased, with what it needs to send it."""

    id: str
    webhook_id: str
    webhook_alias: str
    url: str
    secret_encrypted: str
    job_id: str | None
    event_type: str
    payload: Any  # the data of an event that is not about a job (a test)
    attempt: int  # the number of this attempt (1 for the first)
    retry_since: datetime  # start of the retry window (creation, or the last redeliver)
    space_id: str = ""  # the webhook's space (the dispatcher's share per space)


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt went: a status code, or an error, and how long it took."""

    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
