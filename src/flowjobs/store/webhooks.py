"""Every SQL statement about webhooks: the webhooks themselves, the outbox's
deliveries and their attempts.

Claims lease deliveries so that two dispatchers never send the same attempt
at once: on PostgreSQL the candidates are picked with ``FOR UPDATE SKIP
LOCKED``; on SQLite the write transaction's ``BEGIN IMMEDIATE`` (the writer
lock) serialises claimers. A claim moves ``next_attempt_at`` to the end of the
lease, so a delivery is due exactly when it may be attempted: at its retry
time, or when the lease of a dispatcher that died runs out (delivery is at
least once). Finding the next due time is then one index lookup.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import (
    AttemptResult,
    DeliveryState,
    DueDelivery,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from flowjobs.store.fairness import fit
from flowjobs.store.outbox import notify_due
from flowjobs.store.rows import utc
from flowjobs.store.sql import SqlStore
from flowjobs.store.tables import webhook_attempts, webhook_deliveries, webhook_rules, webhooks

_PENDING = DeliveryState.PENDING.value
LOST_ATTEMPT = "no result recorded: the worker's lease ran out during the attempt"
RELEASED_ATTEMPT = "no result: the worker shut down during the attempt"


def _at(value: datetime | None) -> datetime:
    stamp = utc(value)
    assert stamp is not None
    return stamp


def _webhook_from_row(row: Row[Any], base_ids: Sequence[str]) -> Webhook:
    return Webhook(
        id=row.id,
        space_id=row.space_id,
        alias=row.alias,
        url=row.url,
        enabled=row.enabled,
        description=row.description,
        events=tuple(WebhookEvent(e) for e in row.events),
        base_ids=None if row.all_rules else tuple(sorted(base_ids)),
        created_at=_at(row.created_at),
        updated_at=_at(row.updated_at),
    )


def _delivery_from_row(row: Row[Any], attempts: Sequence[WebhookAttempt]) -> WebhookDelivery:
    return WebhookDelivery(
        id=row.id,
        webhook_id=row.webhook_id,
        space_id=row.space_id,
        job_id=row.job_id,
        event_type=row.event_type,
        state=DeliveryState(row.state),
        attempts=row.attempts,
        next_attempt_at=_at(row.next_attempt_at),
        created_at=_at(row.created_at),
        updated_at=_at(row.updated_at),
        delivered_at=utc(row.delivered_at),
        last_status=row.last_status,
        last_error=row.last_error,
        attempt_log=tuple(attempts),
    )


def _webhook_values(hook: Webhook) -> dict[str, Any]:
    return {
        "alias": hook.alias,
        "url": hook.url,
        "enabled": hook.enabled,
        "description": hook.description,
        "events": [e.value for e in hook.events],
        "all_rules": hook.base_ids is None,
        "updated_at": hook.updated_at,
    }


@dataclass(frozen=True)
class NewDelivery:
    """A delivery that is not a job's event (a test), sent at once by its creator."""

    id: str
    webhook: Webhook
    secret_encrypted: str
    event_type: str
    payload: Any


class WebhookStore:
    """Webhook SQL over the process's :class:`SqlStore` (its database's
    transactions)."""

    def __init__(self, sql: SqlStore) -> None:
        self.sql = sql
        self.db = sql.db

    # ---- webhooks -------------------------------------------------------------------

    async def insert(self, hook: Webhook, secret_encrypted: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                webhooks.insert().values(
                    id=hook.id,
                    space_id=hook.space_id,
                    secret_encrypted=secret_encrypted,
                    created_at=hook.created_at,
                    **_webhook_values(hook),
                )
            )
            await self._set_rules(conn, hook)

    async def update(self, hook: Webhook) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                webhooks.update()
                .where(webhooks.c.id == hook.id, webhooks.c.space_id == hook.space_id)
                .values(**_webhook_values(hook))
            )
            await conn.execute(webhook_rules.delete().where(webhook_rules.c.webhook_id == hook.id))
            await self._set_rules(conn, hook)

    @staticmethod
    async def _set_rules(conn: AsyncConnection, hook: Webhook) -> None:
        if hook.base_ids:
            await conn.execute(
                webhook_rules.insert(),
                [{"webhook_id": hook.id, "base_id": base_id} for base_id in hook.base_ids],
            )

    async def delete(self, space_id: str, webhook_id: str) -> bool:
        """Delete a webhook with its deliveries and their attempts."""
        async with self.db.write() as conn:
            deliveries = sa.select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.webhook_id == webhook_id
            )
            # Explicit, rather than trusting ON DELETE CASCADE to be enforced.
            await conn.execute(
                webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(deliveries))
            )
            await conn.execute(
                webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == webhook_id)
            )
            await conn.execute(
                webhook_rules.delete().where(webhook_rules.c.webhook_id == webhook_id)
            )
            result = await conn.execute(
                webhooks.delete().where(
                    webhooks.c.id == webhook_id, webhooks.c.space_id == space_id
                )
            )
            return int(result.rowcount) == 1

    async def find(self, space_id: str, id_or_alias: str) -> Webhook | None:
        query = webhooks.select().where(
            webhooks.c.space_id == space_id,
            sa.or_(webhooks.c.id == id_or_alias, webhooks.c.alias == id_or_alias),
        )
        found = await self._with_rules(query)
        return found[0] if found else None

    async def in_space(self, space_id: str) -> list[Webhook]:
        query = webhooks.select().where(webhooks.c.space_id == space_id).order_by(webhooks.c.alias)
        return await self._with_rules(query)

    async def _with_rules(self, query: sa.Select[Any]) -> list[Webhook]:
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
            ids = [r.id for r in rows if not r.all_rules]
            rules: dict[str, list[str]] = {}
            if ids:
                pairs = await conn.execute(
                    sa.select(webhook_rules.c.webhook_id, webhook_rules.c.base_id).where(
                        webhook_rules.c.webhook_id.in_(ids)
                    )
                )
                for webhook_id, base_id in pairs.all():
                    rules.setdefault(webhook_id, []).append(base_id)
        return [_webhook_from_row(r, rules.get(r.id, [])) for r in rows]

    async def encrypted_secrets(self) -> list[tuple[str, str]]:
        """(webhook id, encrypted secret) of every webhook, for key rotation."""
        query = sa.select(webhooks.c.id, webhooks.c.secret_encrypted).order_by(webhooks.c.id)
        async with self.db.read() as conn:
            return [(r.id, r.secret_encrypted) for r in (await conn.execute(query)).all()]

    async def encrypted_secret(self, webhook_id: str) -> str:
        query = sa.select(webhooks.c.secret_encrypted).where(webhooks.c.id == webhook_id)
        async with self.db.read() as conn:
            return str((await conn.execute(query)).scalar_one())

    async def set_secret(self, webhook_id: str, secret_encrypted: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                webhooks.update()
                .where(webhooks.c.id == webhook_id)
                .values(secret_encrypted=secret_encrypted)
            )

    # ---- deliveries: claim, finish, release -------------------------------------------

    async def insert_leased(
        self, new: NewDelivery, worker_id: str, now: datetime, lease_s: float
    ) -> DueDelivery:
        """Insert a delivery already leased by its creator, with its first attempt."""
        async with self.db.write() as conn:
            await conn.execute(
                webhook_deliveries.insert().values(
                    id=new.id,
                    webhook_id=new.webhook.id,
                    space_id=new.webhook.space_id,
                    job_id=None,
                    event_type=new.event_type,
                    payload=new.payload,
                    state=_PENDING,
                    attempts=1,
                    next_attempt_at=now + timedelta(seconds=lease_s),
                    retry_since=now,
                    locked_by=worker_id,
                    locked_until=now + timedelta(seconds=lease_s),
                    created_at=now,
                    updated_at=now,
                )
            )
            await self._start_attempts(conn, [(new.id, 1)], now)
        return DueDelivery(
            id=new.id,
            webhook_id=new.webhook.id,
            webhook_alias=new.webhook.alias,
            url=new.webhook.url,
            secret_encrypted=new.secret_encrypted,
            job_id=None,
            event_type=new.event_type,
            payload=new.payload,
            attempt=1,
            retry_since=now,
            space_id=new.webhook.space_id,
        )

    @staticmethod
    def _pending() -> list[sa.ColumnElement[bool]]:
        # Deliveries of a disabled webhook wait until it is enabled again.
        return [webhook_deliveries.c.state == _PENDING, webhooks.c.enabled.is_(True)]

    async def next_due(self) -> datetime | None:
        """When the next pending delivery may be attempted (None: none is
        pending). A read, so that an idle dispatcher never takes the writer lock."""
        query = (
            sa.select(sa.func.min(webhook_deliveries.c.next_attempt_at))
            .join(webhooks, webhooks.c.id == webhook_deliveries.c.webhook_id)
            .where(*self._pending())
        )
        async with self.db.read() as conn:
            return utc((await conn.execute(query)).scalar())

    async def claim(
        self,
        worker_id: str,
        now: datetime,
        lease_s: float,
        *,
        limit: int,
        room: Mapping[str, int],
        default_room: int,
        space_room: Mapping[str, int] | None = None,
        default_space_room: int | None = None,
    ) -> list[DueDelivery]:
        """Lease up to ``limit`` due deliveries, spaces in turn and each
        space's oldest due first, at most ``room[webhook]`` (else
        ``default_room``) more per webhook and ``space_room[space]`` (else
        ``default_space_room``) more per space; start an attempt of each."""
        full = [webhook_id for webhook_id, free in room.items() if free <= 0]
        full_spaces = [space for space, free in (space_room or {}).items() if free <= 0]
        async with self.db.write() as conn:
            candidates = await self._candidates(conn, now, limit * 4, full, full_spaces)
            picked = fit(candidates, room, default_room, limit, space_room, default_space_room)
            if not picked:
                return []
            ids = [r.id for r in picked]
            await conn.execute(
                webhook_attempts.update()
                .where(
                    webhook_attempts.c.delivery_id.in_(ids),
                    webhook_attempts.c.status_code.is_(None),
                    webhook_attempts.c.error.is_(None),
                )
                .values(error=LOST_ATTEMPT)
            )
            lease_end = now + timedelta(seconds=lease_s)
            await conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id.in_(ids))
                .values(
                    attempts=webhook_deliveries.c.attempts + 1,
                    locked_by=worker_id,
                    locked_until=lease_end,
                    next_attempt_at=lease_end,  # due again only if this lease runs out
                    updated_at=now,
                )
            )
            await self._start_attempts(conn, [(r.id, r.attempts + 1) for r in picked], now)
        return [
            DueDelivery(
                id=r.id,
                webhook_id=r.webhook_id,
                webhook_alias=r.alias,
                url=r.url,
                secret_encrypted=r.secret_encrypted,
                job_id=r.job_id,
                event_type=r.event_type,
                payload=r.payload,
                attempt=r.attempts + 1,
                retry_since=_at(r.retry_since),
                space_id=r.space_id,
            )
            for r in picked
        ]

    async def _candidates(
        self,
        conn: AsyncConnection,
        now: datetime,
        limit: int,
        full: list[str],
        full_spaces: list[str],
    ) -> Sequence[Any]:
        d = webhook_deliveries.c
        query = (
            sa.select(
                d.id,
                d.webhook_id,
                d.space_id,
                d.job_id,
                d.event_type,
                d.payload,
                d.attempts,
                d.retry_since,
                webhooks.c.alias,
                webhooks.c.url,
                webhooks.c.secret_encrypted,
            )
            .join(webhooks, webhooks.c.id == d.webhook_id)
            .where(*self._pending(), d.next_attempt_at <= now)
            .order_by(d.next_attempt_at)
            .limit(limit)
        )
        if full:
            query = query.where(d.webhook_id.not_in(full))
        if full_spaces:  # their rows would crowd out the other spaces' candidates
            query = query.where(d.space_id.not_in(full_spaces))
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=webhook_deliveries)
        return (await conn.execute(query)).all()

    @staticmethod
    async def _start_attempts(
        conn: AsyncConnection, numbered: Sequence[tuple[str, int]], now: datetime
    ) -> None:
        await conn.execute(
            webhook_attempts.insert(),
            [
                {
                    "id": str(uuid.uuid4()),
                    "delivery_id": delivery_id,
                    "attempt": attempt,
                    "started_at": now,
                }
                for delivery_id, attempt in numbered
            ],
        )

    async def finish(
        self,
        due: DueDelivery,
        worker_id: str,
        result: AttemptResult,
        now: datetime,
        *,
        retry_at: datetime | None,
    ) -> None:
        """Record an attempt; the delivery is DELIVERED on success, else
        PENDING until ``retry_at``, or FAILED when ``retry_at`` is None. A
        worker whose lease was taken over records its attempt only."""
        if result.ok:
            state, values = DeliveryState.DELIVERED, {"delivered_at": now}
        elif retry_at is not None:
            state, values = DeliveryState.PENDING, {"next_attempt_at": retry_at}
        else:
            state, values = DeliveryState.FAILED, {}
        async with self.db.write() as conn:
            await conn.execute(
                webhook_attempts.update()
                .where(
                    webhook_attempts.c.delivery_id == due.id,
                    webhook_attempts.c.attempt == due.attempt,
                )
                .values(
                    status_code=result.status_code, latency_ms=result.latency_ms, error=result.error
                )
            )
            await conn.execute(
                webhook_deliveries.update()
                .where(
                    webhook_deliveries.c.id == due.id,
                    webhook_deliveries.c.locked_by == worker_id,
                    webhook_deliveries.c.attempts == due.attempt,
                )
                .values(
                    state=state.value,
                    locked_by=None,
                    locked_until=None,
                    last_status=result.status_code,
                    last_error=result.error,
                    updated_at=now,
                    **values,
                )
            )

    async def release(
        self, worker_id: str, deliveries: Sequence[DueDelivery], now: datetime
    ) -> None:
        """Give back leased deliveries whose attempt was cut short (shutdown):
        due again at once, for any dispatcher."""
        if not deliveries:
            return
        async with self.db.write() as conn:
            for due in deliveries:
                await conn.execute(
                    webhook_attempts.update()
                    .where(
                        webhook_attempts.c.delivery_id == due.id,
                        webhook_attempts.c.attempt == due.attempt,
                        webhook_attempts.c.status_code.is_(None),
                    )
                    .values(error=RELEASED_ATTEMPT)
                )
            await conn.execute(
                webhook_deliveries.update()
                .where(
                    webhook_deliveries.c.id.in_([d.id for d in deliveries]),
                    webhook_deliveries.c.locked_by == worker_id,
                )
                .values(locked_by=None, locked_until=None, next_attempt_at=now, updated_at=now)
            )
            await notify_due(conn)

    # ---- deliveries: listing and redeliver ---------------------------------------------

    async def deliveries(
        self,
        space_id: str,
        *,
        webhook_id: str | None = None,
        job_id: str | None = None,
        state: DeliveryState | None = None,
        limit: int = 50,
    ) -> list[WebhookDelivery]:
        """Deliveries of a webhook or of a job, newest first, with their attempts."""
        d = webhook_deliveries.c
        query = webhook_deliveries.select().where(d.space_id == space_id)
        if webhook_id is not None:
            query = query.where(d.webhook_id == webhook_id)
        if job_id is not None:
            query = query.where(d.job_id == job_id)
        if state is not None:
            query = query.where(d.state == state.value)
        query = query.order_by(d.created_at.desc(), d.id.desc()).limit(limit)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
            attempts = await self._attempts(conn, [r.id for r in rows])
        return [_delivery_from_row(r, attempts.get(r.id, [])) for r in rows]

    async def delivery(self, space_id: str, delivery_id: str) -> WebhookDelivery | None:
        query = webhook_deliveries.select().where(
            webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.space_id == space_id
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
            if row is None:
                return None
            attempts = await self._attempts(conn, [row.id])
        return _delivery_from_row(row, attempts.get(row.id, []))

    @staticmethod
    async def _attempts(
        conn: AsyncConnection, delivery_ids: list[str]
    ) -> dict[str, list[WebhookAttempt]]:
        if not delivery_ids:
            return {}
        a = webhook_attempts.c
        query = (
            webhook_attempts.select()
            .where(a.delivery_id.in_(delivery_ids))
            .order_by(a.delivery_id, a.attempt)
        )
        found: dict[str, list[WebhookAttempt]] = {}
        for r in (await conn.execute(query)).all():
            found.setdefault(r.delivery_id, []).append(
                WebhookAttempt(r.attempt, _at(r.started_at), r.status_code, r.latency_ms, r.error)
            )
        return found

    async def prune(self, before: datetime, batch_size: int) -> int:
        """Delete finished deliveries created before ``before`` with their
        attempts, ``batch_size`` at a time, each batch its own transaction."""
        d = webhook_deliveries.c
        final = [DeliveryState.DELIVERED.value, DeliveryState.FAILED.value]
        pick = sa.select(d.id).where(d.state.in_(final), d.created_at < before).limit(batch_size)
        deleted = 0
        while True:
            async with self.db.write() as conn:
                ids = list((await conn.execute(pick)).scalars())
                if ids:
                    await conn.execute(
                        webhook_attempts.delete().where(webhook_attempts.c.delivery_id.in_(ids))
                    )
                    await conn.execute(webhook_deliveries.delete().where(d.id.in_(ids)))
            deleted += len(ids)
            if len(ids) < batch_size:
                return deleted

    async def redeliver(self, space_id: str, delivery_id: str, now: datetime) -> bool:
        """Make a delivery due now with a fresh retry window, unless it is being
        attempted right now (False)."""
        d = webhook_deliveries.c
        query = (
            webhook_deliveries.update()
            .where(
                d.id == delivery_id,
                d.space_id == space_id,
                sa.or_(d.locked_until.is_(None), d.locked_until < now),
            )
            .values(
                state=_PENDING,
                next_attempt_at=now,
                retry_since=now,
                locked_by=None,
                locked_until=None,
                updated_at=now,
            )
        )
        async with self.db.write() as conn:
            moved = int((await conn.execute(query)).rowcount) == 1
            if moved:
                await notify_due(conn)
        return moved
