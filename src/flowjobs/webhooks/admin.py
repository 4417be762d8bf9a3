"""Administration: the webhooks of a space (create, list, get, update,
delete, secrets re-encrypted), their deliveries (list, redeliver) and test
events (one attempt at once, through the deliverer). The deliveries the
dispatcher sends are ``delivery.py``'s."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import httpx

from flowjobs.config import Settings
from flowjobs.domain import (
    RULE_TYPE_FLOW,
    TEST_EVENT,
    DeliveryState,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from flowjobs.errors import (
    AlreadyExistsError,
    DeliveryConflictError,
    DeliveryNotFoundError,
    FlowExecutionError,
    InvalidWebhookError,
    InvalidWebhookUrlError,
    WebhookNotFoundError,
)
from flowjobs.net.ssrf import AllowList, check_scheme, resolve_target
from flowjobs.schemas import WebhookCreate, WebhookUpdate
from flowjobs.store.webhooks import NewDelivery, WebhookStore
from flowjobs.webhooks import sender
from flowjobs.webhooks.crypto import SecretBox
from flowjobs.webhooks.delivery import JobReader, WebhookDeliverer, utcnow
from flowjobs.webhooks.signing import new_secret

log = logging.getLogger("flowjobs.webhooks")
MAX_DELIVERIES_LISTED = 500


@dataclass(frozen=True)
class CreatedWebhook:
    webhook: Webhook
    secret: str  # shown once; only its encryption is stored


class WebhookService:
    """The webhooks of a space and their deliveries, as the Management API,
    the dashboard and the CLI use them; ``delivery`` sends (the dispatcher's
    part, and this class's test events)."""

    def __init__(
        self,
        store: WebhookStore,
        settings: Settings,
        *,
        jobs: JobReader,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.box = SecretBox(settings.secret_keys)
        self.allow = AllowList.from_entries(settings.webhook_allow)
        self.delivery = WebhookDeliverer(store, jobs, settings, self.box, self.allow)
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
            await self.delivery.deliver(http, due, owner)
        delivered = await self.store.delivery(space_id, due.id)
        assert delivered is not None
        return delivered


def _events(events: Sequence[WebhookEvent]) -> tuple[WebhookEvent, ...]:
    return tuple(e for e in WebhookEvent if e in set(events))


def _bounded(limit: int) -> int:
    return max(1, min(limit, MAX_DELIVERIES_LISTED))
