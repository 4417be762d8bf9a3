"""Webhook events, written in the transaction that ends a job (the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import EndedJob


async def enqueue_job_events(
    conn: AsyncConnection, ended: Sequence[EndedJob], now: datetime
) -> None:
    """One delivery row per ended job and matching enabled webhook."""
    # Filled in by the webhooks work (issue 5).
    return None
