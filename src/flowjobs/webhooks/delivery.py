"""Delivery: one attempt of a leased delivery from build to record (the
job read through the manager, the envelope, the signature, the POST, the
outcome and the next attempt's time), and the leases the dispatcher in
``worker/dispatcher.py`` takes and gives back."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from flowjobs import __version__
from flowjobs.config import Settings
from flowjobs.domain import TEST_EVENT, AttemptResult, DueDelivery, JobRecord
from flowjobs.errors import FlowjobsError
from flowjobs.net.ssrf import AllowList
from flowjobs.schemas import Job
from flowjobs.store.webhooks import WebhookStore
from flowjobs.webhooks import jsontext, retry, sender
from flowjobs.webhooks.crypto import SecretBox
from flowjobs.webhooks.signing import SIGNATURE_HEADER, sign

log = logging.getLogger("flowjobs.webhooks")


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as JavaScript's toISOString writes it."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


class JobReader(Protocol):
    """Where an event's job is read: the JobManager (webhooks never read jobs
    from the store themselves)."""

    async def find_job(self, job_id: str) -> JobRecord | None: ...


@dataclass(frozen=True)
class Event:
    """What one attempt sends: the body bytes and their signature."""

    body: bytes
    signature: str


_UNWRITABLE = "the job's data cannot be written as JSON: "


class _Undeliverable(Exception):
    """The event cannot be built; ``final``: no later attempt could build it."""

    def __init__(self, message: str, *, final: bool) -> None:
        super().__init__(message)
        self.final = final


def envelope(
    event_type: str,
    data: Any,
    *,
    alias: str,
    delivery_id: str,
    attempt: int,
    correlation_id: str | None,
    at: datetime,
) -> dict[str, Any]:
    """The JSON payload of one attempt (docs/webhooks.md)."""
    return {
        "eventType": event_type,
        "data": data,
        "metadata": {
            "webhookAlias": alias,
            "deliveryId": delivery_id,
            "attempt": attempt,
            "timestamp": timestamp(at),
            "correlationId": correlation_id,
        },
    }


class WebhookDeliverer:
    """Sends leased deliveries, one attempt at a time, and records each."""

    def __init__(
        self,
        store: WebhookStore,
        jobs: JobReader,
        settings: Settings,
        box: SecretBox,
        allow: AllowList,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.settings = settings
        self.box = box
        self.allow = allow

    # ---- leases (dispatcher) ----------------------------------------------------------------

    async def seconds_until_due(self) -> float | None:
        """Seconds until the next pending delivery may be attempted (0 or less:
        now); None when none is pending."""
        due = await self.store.next_due()
        return None if due is None else (due - utcnow()).total_seconds()

    async def claim(
        self,
        worker_id: str,
        *,
        limit: int,
        room: Mapping[str, int],
        space_room: Mapping[str, int] | None = None,
    ) -> list[DueDelivery]:
        """Lease due deliveries: ``limit`` in all, spaces in turn, at most
        ``room`` more per webhook and ``space_room`` more per space (not named:
        the per-endpoint and per-space concurrency settings)."""
        return await self.store.claim(
            worker_id,
            utcnow(),
            self.settings.webhook_lease_seconds,
            limit=limit,
            room=room,
            default_room=self.settings.webhook_concurrency_per_endpoint,
            space_room=space_room,
            default_space_room=self.settings.webhook_concurrency_per_space,
        )

    async def release(self, worker_id: str, deliveries: Sequence[DueDelivery]) -> None:
        await self.store.release(worker_id, deliveries, utcnow())

    async def prune(self, older_than: timedelta, *, batch_size: int = 5000) -> int:
        """Delete DELIVERED and FAILED deliveries (with their attempts) written
        more than ``older_than`` ago; the number deleted."""
        return await self.store.prune(utcnow() - older_than, batch_size)

    # ---- one attempt --------------------------------------------------------------------------

    async def deliver(self, http: httpx.AsyncClient, due: DueDelivery, worker_id: str) -> str:
        """Build, sign and send one attempt of a leased delivery and record it:
        DELIVERED, or PENDING until its next attempt, or FAILED. The outcome
        as metrics count it: "delivered", "retry" or "failed"."""
        retries = due.event_type != TEST_EVENT
        try:
            event = await self.event(due, utcnow())
        except _Undeliverable as exc:
            result = AttemptResult(status_code=None, latency_ms=0.0, error=str(exc))
            retries = retries and not exc.final
        else:
            result = await sender.post(
                http,
                due.url,
                event.body,
                _headers(event),
                self.allow,
                self.settings.webhook_timeout_seconds,
            )
        now = utcnow()
        retry_at = (
            retry.next_attempt_at(due.attempt, due.retry_since, now, self.settings)
            if retries and not result.ok
            else None
        )
        await self.store.finish(due, worker_id, result, now, retry_at=retry_at)
        _log_attempt(due, result, retry_at)
        if result.ok:
            return "delivered"
        return "failed" if retry_at is None else "retry"

    async def event(self, due: DueDelivery, at: datetime) -> Event:
        """The body of this attempt (its number and time are in the metadata)
        and its signature."""
        data, correlation_id = await self._data(due)
        try:
            secret = self.box.decrypt(due.secret_encrypted)
        except FlowjobsError as exc:
            raise _Undeliverable(exc.message, final=False) from None
        payload = envelope(
            due.event_type,
            data,
            alias=due.webhook_alias,
            delivery_id=due.id,
            attempt=due.attempt,
            correlation_id=correlation_id,
            at=at,
        )
        try:
            body = jsontext.dumps(payload).encode("utf-8")
        except (ValueError, RecursionError) as exc:  # see _data
            raise _Undeliverable(_UNWRITABLE + str(exc)[:200], final=True) from None
        return Event(body, sign(body, secret))

    async def _data(self, due: DueDelivery) -> tuple[Any, str | None]:
        """The event's data: the job as GET /job/{jobId} answers it, read now
        (its final state never changes), or the stored payload of a test."""
        if due.job_id is None:
            return due.payload, None
        job = await self.jobs.find_job(due.job_id)
        if job is None:
            raise _Undeliverable("the job no longer exists (pruned)", final=True)
        try:
            return Job.from_record(job).model_dump(mode="json"), job.correlation_id
        except (ValueError, RecursionError) as exc:
            # A job stored before its data was checked where it is written
            # (jsoncheck.py): nested past the serializer's depth, or a lone
            # surrogate. No later attempt could send it: fail it now.
            raise _Undeliverable(_UNWRITABLE + str(exc)[:200], final=True) from None


def _headers(event: Event) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": f"flowjobs-webhooks/{__version__}",
        SIGNATURE_HEADER: event.signature,
    }


def _log_attempt(due: DueDelivery, result: AttemptResult, retry_at: datetime | None) -> None:
    fields = {
        "action": "webhook-attempt",
        "deliveryId": due.id,
        "webhookId": due.webhook_id,
        "jobId": due.job_id,
        "attempt": due.attempt,
        "statusCode": result.status_code,
        "latencyMs": result.latency_ms,
    }
    if result.ok:
        log.info("webhook delivered", extra=fields)
        return
    fields |= {"error": result.error, "retryAt": retry_at.isoformat() if retry_at else None}
    log.warning("webhook attempt failed" if retry_at else "webhook delivery failed", extra=fields)
