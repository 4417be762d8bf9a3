"""Where a job ends: every UPDATE that moves jobs to a final state goes
through :func:`update_jobs` (one job or a cancel of many) or
:meth:`EndingStore.end_jobs` (the worker's batched ends), and both record, in
the transaction of the move, the jobs' webhook events (the outbox,
store/outbox.py) and their seconds in the space's usage (store/usage.py): an
event exists, and a second is billed, if and only if the job ended.

The batch is one transaction on SQLite (its statements: store/ending_sql.py)
and one statement on PostgreSQL (store/endings_pg.py), which writes the same
outbox rows and usage in SQL (tests/integration/test_job_endings.py checks
that both give the same events and billing).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import FINAL_STATES, EndedJob, EndingsWritten, JobEnding, Status
from flowjobs.store import ending_sql
from flowjobs.store import endings_pg as ending_pg
from flowjobs.store.database import JOB_CHANNEL, WAITING_CHANNEL, Database
from flowjobs.store.outbox import WEBHOOK_CHANNEL, enqueue_job_events
from flowjobs.store.rows import ENDED_COLUMNS, ended
from flowjobs.store.usage import add_usage


async def update_jobs(
    conn: AsyncConnection, update: sa.Update, status: Status, now: datetime
) -> int:
    """Run an UPDATE that moves jobs to ``status``; when that status is
    final, record the endings in the same transaction (webhook events,
    usage), so they exist if and only if the jobs ended. Rows moved."""
    if status.state not in FINAL_STATES:
        return int((await conn.execute(update)).rowcount)
    rows = (await conn.execute(update.returning(*ENDED_COLUMNS))).all()
    if rows:
        await record_endings(conn, ended(rows), now)
    return len(rows)


async def record_endings(conn: AsyncConnection, jobs: Sequence[EndedJob], now: datetime) -> int:
    """Webhook events and usage of jobs that just ended; the events queued."""
    queued = await enqueue_job_events(conn, jobs, now)
    await add_usage(conn, jobs, now)
    return queued


class EndingStore:
    """The worker's batched ends."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def end_jobs(
        self, endings: Sequence[JobEnding], now: datetime, canceled: Status
    ) -> EndingsWritten:
        """Write many jobs' endings in one transaction: their final details,
        their moves (each job only if its worker still holds it, RUNNING, or
        CANCELING: then it ends ``canceled``), the webhook events and usage
        of the jobs that moved, and (PostgreSQL) one NOTIFY per channel."""
        if not self.db.is_sqlite:
            return await self._end_jobs_postgresql(endings, now, canceled)
        queued = 0
        async with self.db.write() as conn:
            moved = await ending_sql.write(conn, endings, now, canceled, sqlite=True)
            if moved:
                queued = await record_endings(conn, ended(moved), now)
        return EndingsWritten(ending_sql.outcomes(endings, moved, canceled), queued)

    async def _end_jobs_postgresql(
        self, endings: Sequence[JobEnding], now: datetime, canceled: Status
    ) -> EndingsWritten:
        """PostgreSQL: details, moves, usage, webhook outbox and NOTIFYs in one
        statement (store/endings_pg.py), one round trip."""
        channels = {"waiting": WAITING_CHANNEL, "changed": JOB_CHANNEL, "webhooks": WEBHOOK_CHANNEL}
        async with self.db.one_statement() as conn:
            moved, queued = await ending_pg.write(conn, endings, now, canceled, **channels)
        return EndingsWritten(ending_sql.outcomes(endings, moved, canceled), queued)
