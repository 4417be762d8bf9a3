"""Webhook events, written in the transaction that ends a job (the outbox).

Both functions run inside the caller's write transaction, so an event row
exists if and only if the job's final state was committed. They cost one
indexed query on ``webhooks`` (by space) when no webhook matches.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import EVENT_OF_STATE, DeliveryState, EndedJob, JobState
from flowjobs.store.tables import webhook_deliveries, webhook_rules, webhooks

WEBHOOK_CHANNEL = "flowjobs_webhooks"  # a webhook delivery is due (PostgreSQL NOTIFY)


@dataclass(frozen=True)
class Subscription:
    """An enabled webhook of a space: its events and flows (None: every flow)."""

    webhook_id: str
    space_id: str
    events: frozenset[str]
    base_ids: frozenset[str] | None

    def wants(self, event: str, base_id: str) -> bool:
        return event in self.events and (self.base_ids is None or base_id in self.base_ids)


@functools.cache
def _subscriptions_query() -> sa.Select[Any]:
    """Built once, the spaces as one expanding parameter: every job end runs
    it, and a cached statement costs SQLAlchemy no tree walk."""
    space_ids: sa.BindParameter[str] = sa.bindparam("space_ids", expanding=True)
    return (
        sa.select(
            webhooks.c.id,
            webhooks.c.space_id,
            webhooks.c.events,
            webhooks.c.all_rules,
            webhook_rules.c.base_id,
        )
        .outerjoin(webhook_rules, webhook_rules.c.webhook_id == webhooks.c.id)
        .where(webhooks.c.space_id.in_(space_ids), webhooks.c.enabled.is_(True))
    )


async def subscriptions(conn: AsyncConnection, space_ids: Iterable[str]) -> list[Subscription]:
    """The enabled webhooks of these spaces, with the flows each is attached to."""
    params = {"space_ids": sorted(set(space_ids))}
    found: dict[str, tuple[Any, set[str]]] = {}
    for row in (await conn.execute(_subscriptions_query(), params)).all():
        _, base_ids = found.setdefault(row.id, (row, set()))
        if row.base_id is not None:
            base_ids.add(row.base_id)
    return [
        Subscription(
            row.id,
            row.space_id,
            frozenset(row.events),
            None if row.all_rules else frozenset(base_ids),
        )
        for row, base_ids in found.values()
    ]


def _delivery_row(job: EndedJob, webhook_id: str, event: str, now: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "webhook_id": webhook_id,
        "space_id": job.space_id,
        "job_id": job.id,
        "event_type": event,
        "payload": None,
        "state": DeliveryState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "retry_since": now,
        "created_at": now,
        "updated_at": now,
    }


def _delivery_rows(
    ended: Sequence[EndedJob], subs: Sequence[Subscription], now: datetime
) -> list[dict[str, Any]]:
    by_space: dict[str, list[Subscription]] = {}
    for sub in subs:
        by_space.setdefault(sub.space_id, []).append(sub)
    rows = []
    for job in ended:
        event = EVENT_OF_STATE[job.state].value
        for sub in by_space.get(job.space_id, ()):
            if sub.wants(event, job.base_id):
                rows.append(_delivery_row(job, sub.webhook_id, event, now))
    return rows


async def notify_due(conn: AsyncConnection) -> None:
    """Wake the dispatchers of every process when the transaction commits
    (PostgreSQL); on SQLite the dispatchers' in-process wake and poll do it."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_notify(WEBHOOK_CHANNEL, "")))


async def enqueue_job_events(
    conn: AsyncConnection, ended: Sequence[EndedJob], now: datetime
) -> int:
    """One delivery row per ended job and matching enabled webhook; how many."""
    if not ended:
        return 0
    subs = await subscriptions(conn, {job.space_id for job in ended})
    if not subs:
        return 0
    rows = _delivery_rows(ended, subs, now)
    if rows:
        await conn.execute(webhook_deliveries.insert(), rows)
        await notify_due(conn)
    return len(rows)


async def has_subscribers(
    conn: AsyncConnection, filters: Mapping[str, Any], state: JobState
) -> bool:
    """Whether jobs matching ``filters`` (column -> value, as cancel-all uses
    them) that reach ``state`` would have any webhook to tell. Lets a bulk
    update skip RETURNING every row when nobody listens."""
    space_id = filters.get("space_id")
    if space_id is None:
        return True  # cannot tell cheaply: be exact rather than fast
    event = EVENT_OF_STATE[state].value
    base_id = filters.get("base_id")
    for sub in await subscriptions(conn, [space_id]):
        if event in sub.events and (
            sub.base_ids is None or base_id is None or base_id in sub.base_ids
        ):
            return True
    return False
