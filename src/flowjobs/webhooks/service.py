"""WebhookService: webhooks of a space (create, list, get, update, delete),
their deliveries (list, redeliver, test), and one delivery attempt from
start to record, for the dispatcher in the workers and for test events.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from flowjobs import __version__
from flowjobs.config import Settings
from flowjobs.domain import (
    RULE_TYPE_FLOW,
    TEST_EVENT,
    AttemptResult,
    DeliveryState,
    DueDelivery,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from flowjobs.engine.ssrf import AllowList, check_scheme, resolve_target
from flowjobs.errors import (
    AlreadyExistsError,
    DeliveryConflictError,
    DeliveryNotFoundError,
    FlowExecutionError,
    FlowjobsError,
    InvalidWebhookError,
    InvalidWebhookUrlError,
    WebhookNotFoundError,
)
from flowjobs.schemas import Job, WebhookCreate, WebhookUpdate
from flowjobs.store.webhooks import NewDelivery, WebhookStore
from flowjobs.webhooks import jsontext, retry, sender
from flowjobs.webhooks.crypto import SecretBox
from flowjobs.webhooks.signing import SIGNATURE_HEADER, new_secret, sign

log = logging.getLogger("flowjobs.webhooks")
MAX_DELIVERIES_LISTED = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as JavaScript's toISOString writes it."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str  # shown once; only its encryption is stored


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


class WebhookService:
    def __init__(
        self,
        store: WebhookStore,
        settings: Settings,
        *,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.box = SecretBox(settings.secret_keys)
        self.allow = AllowList.from_entries(settings.webhook_allow)
        self._wake = wake  # wakes this process's dispatcher (embedded worker)

    # ---- webhooks ---------------------------------------------------------------------

    async def create(self, space_id: str, spec: WebhookCreate) -> CreatedWebhook:
        self.box.require()  # the deployment's problem first: no key, no webhook
        await self.check_url(spec.url)
        now = utcnow()
        hook = Webhook(
            id=str(uuid.uuid4()),
            space_id=space_id,
            alias=spec.alias,
            url=spec.url,
            enabled=spec.enabled,
            description=spec.description,
            events=_events(spec.events),
            base_ids=await self._base_ids(space_id, spec.rules),
            created_at=now,
            updated_at=now,
        )
        secret = new_secret()
        await self._saving_alias(self.store.insert(hook, self.box.encrypt(secret)), hook.alias)
        log.info(
            "webhook created",
            extra={"action": "webhook-create", "webhookId": hook.id, "spaceId": space_id},
        )
        return CreatedWebhook(hook, secret)

    async def update(self, space_id: str, ref: str, changes: WebhookUpdate) -> Webhook:
        hook = await self.get(space_id, ref)
        given = changes.model_fields_set
        for name in given - {"description"}:
            if getattr(changes, name) is None:
                raise InvalidWebhookError(f"{name} may not be null")
        updates: dict[str, Any] = {
            name: getattr(changes, name)
            for name in ("url", "alias", "enabled", "description")
            if name in given
        }
        if "url" in updates:
            await self.check_url(updates["url"])
        if changes.events is not None:
            updates["events"] = _events(changes.events)
        if changes.rules is not None:
            updates["base_ids"] = await self._base_ids(space_id, changes.rules)
        updated = replace(hook, **updates, updated_at=utcnow())
        await self._saving_alias(self.store.update(updated), updated.alias)
        return updated

    @staticmethod
    async def _saving_alias(saving: Any, alias: str) -> None:
        try:
            await saving
        except AlreadyExistsError:
            raise AlreadyExistsError(
                f"A webhook with alias {alias!r} already exists in this space"
            ) from None

    async def get(self, space_id: str, ref: str) -> Webhook:
        """A webhook of the space by id or alias (404 for other spaces')."""
        hook = await self.store.find(space_id, ref)
        if hook is None:
            raise WebhookNotFoundError(f"No webhook with id or alias {ref[:100]!r} in this space")
        return hook

    async def list_webhooks(self, space_id: str) -> list[Webhook]:
        return await self.store.in_space(space_id)

    async def delete(self, space_id: str, ref: str) -> None:
        """Delete a webhook, its deliveries (pending ones too) and their attempts."""
        hook = await self.get(space_id, ref)
        if not await self.store.delete(space_id, hook.id):
            raise WebhookNotFoundError()
        log.info(
            "webhook deleted",
            extra={"action": "webhook-delete", "webhookId": hook.id, "spaceId": space_id},
        )

    async def check_url(self, url: str) -> None:
        """http or https, with a host the SSRF guard lets through (400 if not)."""
        try:
            parsed = httpx.URL(url)
            check_scheme(parsed)
            port = parsed.port
            if port is None:
                port = 443 if parsed.scheme == "https" else 80
            if not 0 < port < 65536:
                raise InvalidWebhookUrlError(f"url: port {port} is not between 1 and 65535")
            await resolve_target(parsed.raw_host.decode("ascii"), port, self.allow)
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise InvalidWebhookUrlError(f"url: not a valid URL ({exc})") from exc
        except FlowExecutionError as exc:
            raise InvalidWebhookUrlError(f"url: {exc.message}") from exc

    async def _base_ids(self, space_id: str, rules: str | Sequence[str]) -> tuple[str, ...] | None:
        if rules == "all":
            return None
        base_ids: list[str] = []
        for identifier in rules:
            versions = await self.store.sql.find_rule_versions(space_id, identifier)
            if not versions:
                raise InvalidWebhookError(
                    f"rules: no rule with id or alias {identifier[:100]!r} in this space"
                )
            if versions[0].type != RULE_TYPE_FLOW:
                raise InvalidWebhookError(
                    f"rules: {identifier[:100]!r} is not an integration flow (only flows run jobs)"
                )
            base_ids.append(versions[0].base_id)
        if not base_ids:
            raise InvalidWebhookError('rules: name at least one flow, or "all"')
        return tuple(sorted(set(base_ids)))

    async def reencrypt(self) -> int:
        """Encrypt every secret with the first key of FLOWJOBS_SECRET_KEY (after
        a new key was put first); the number of secrets rewritten."""
        pairs = await self.store.encrypted_secrets()
        for webhook_id, token in pairs:
            await self.store.set_secret(webhook_id, self.box.rotate(token))
        return len(pairs)

    # ---- deliveries -----------------------------------------------------------------------

    async def deliveries(
        self,
        space_id: str,
        ref: str,
        *,
        limit: int = 50,
        state: DeliveryState | None = None,
    ) -> list[WebhookDelivery]:
        """A webhook's deliveries, newest first, each with its attempts."""
        hook = await self.get(space_id, ref)
        return await self.store.deliveries(
            space_id, webhook_id=hook.id, state=state, limit=_bounded(limit)
        )

    async def job_deliveries(
        self, space_id: str, job_id: str, *, limit: int = 50
    ) -> list[WebhookDelivery]:
        """The deliveries of one job's event (one per webhook), newest first."""
        return await self.store.deliveries(space_id, job_id=job_id, limit=_bounded(limit))

    async def redeliver(self, space_id: str, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again (whatever its state) with a fresh retry window;
        its id stays, so a receiver can tell it is the same event."""
        found = await self.store.delivery(space_id, delivery_id)
        if found is None:
            raise DeliveryNotFoundError()
        if not await self.store.redeliver(space_id, delivery_id, utcnow()):
            raise DeliveryConflictError(
                "The delivery is being attempted right now; ask again once it is recorded"
            )
        self._wake()
        log.info("redeliver", extra={"action": "webhook-redeliver", "deliveryId": delivery_id})
        updated = await self.store.delivery(space_id, delivery_id)
        return updated or found

    async def send_test(self, space_id: str, ref: str) -> WebhookDelivery:
        """Send a signed test event at once (one attempt, whether or not the
        webhook is enabled) and answer with its recorded outcome."""
        self.box.require()
        hook = await self.get(space_id, ref)
        new = NewDelivery(
            id=str(uuid.uuid4()),
            webhook=hook,
            secret_encrypted=await self.store.encrypted_secret(hook.id),
            event_type=TEST_EVENT,
            payload={"message": "A test event from flowjobs", "webhookId": hook.id},
        )
        owner = f"api:{socket.gethostname()}:{os.getpid()}"
        due = await self.store.insert_leased(
            new, owner, utcnow(), self.settings.webhook_lease_seconds
        )
        async with sender.client(self.settings.webhook_timeout_seconds) as http:
            await self.deliver(http, due, owner)
        delivered = await self.store.delivery(space_id, due.id)
        assert delivered is not None
        return delivered

    # ---- one attempt (dispatcher) -----------------------------------------------------------

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
                self._headers(event),
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
        job = await self.store.sql.get_job(due.job_id)
        if job is None:
            raise _Undeliverable("the job no longer exists (pruned)", final=True)
        try:
            return Job.from_record(job).model_dump(mode="json"), job.correlation_id
        except (ValueError, RecursionError) as exc:
            # A job stored before its data was checked where it is written
            # (jsoncheck.py): nested past the serializer's depth, or a lone
            # surrogate. No later attempt could send it: fail it now.
            raise _Undeliverable(_UNWRITABLE + str(exc)[:200], final=True) from None

    @staticmethod
    def _headers(event: Event) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": f"flowjobs-webhooks/{__version__}",
            SIGNATURE_HEADER: event.signature,
        }


def _events(events: Sequence[WebhookEvent]) -> tuple[WebhookEvent, ...]:
    return tuple(e for e in WebhookEvent if e in set(events))


def _bounded(limit: int) -> int:
    return max(1, min(limit, MAX_DELIVERIES_LISTED))


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
