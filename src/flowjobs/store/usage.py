"""Execution seconds per space and month, added in the transaction that ends a job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import EndedJob


async def add_usage(conn: AsyncConnection, ended: Sequence[EndedJob], now: datetime) -> None:
    """Add each ended job's seconds from RUNNING to its end to its space's month."""
    # Filled in by the usage work (issue 5).
    return None
