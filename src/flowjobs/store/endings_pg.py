"""PostgreSQL: a batch of job endings in one statement (data-modifying CTEs).

The batch path of store/ending_sql.py ran, per batch, BEGIN, the details upsert,
the UPDATE, the webhook subscriptions query, one usage upsert per space, the
two NOTIFYs and COMMIT: seven round trips, and the space's usage row stayed
locked from its upsert until the commit, so two workers' batches queued on it
for several round trips. Here it is one statement, run on its own (a single
statement is atomic: no BEGIN, no COMMIT round trip): the final details
upserted, the jobs moved (the same SET and WHERE text as store/ending_sql.py),
the usage of the moved jobs summed per space and billed as store/usage.py
bills it, one webhook delivery per moved job and matching enabled webhook as
store/outbox.py queues them, and the NOTIFYs (a slot is free, these jobs
changed, a delivery is due), which PostgreSQL sends when it commits.

So every guarantee holds: a job moves only on the conditions of the other
path (a cancel racing a completion still has one winner), and its outbox rows
and usage are written in the transaction of its move. The commit waits for
its WAL flush, as every end's does.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import EVENT_OF_STATE, DeliveryState, JobEnding, Status, month_of
from flowjobs.store import ending_sql
from flowjobs.store.claim import IDS_PER_NOTIFY

# The SET, WHERE, batch and RETURNED texts are store/ending_sql.py's own, so that
# both paths move a job on exactly the same conditions.
_RETURNED = ", ".join(f"jobs.{c.name}" for c in ending_sql.RETURNED)

# The webhook event of each final state (domain.EVENT_OF_STATE), as SQL rows.
_EVENTS = ", ".join(
    f"('{state.value}', '{event.value}')" for state, event in EVENT_OF_STATE.items()
)

# Seconds billed of ``added`` seconds on top of ``before``: all of them, or,
# when the space caps billing (pay-as-you-go off, a quota), only those up to
# the quota (store/usage.py's _billed_increment, in SQL).
_CAP = (
    "(SELECT CASE WHEN s.pay_as_you_go = false THEN s.quota_seconds END"
    " FROM spaces s WHERE s.id = {space})"
)


def _billed(added: str, before: str, space: str) -> str:
    cap = _CAP.format(space=space)
    return f"greatest(0.0, least({added}, coalesce({cap} - {before}, {added})))"


@functools.cache
def statement() -> sa.TextClause:
    """Details upsert, move, usage, webhook outbox and NOTIFYs of a batch; one
    row per moved job (a single row with NULL columns when none moved), each
    with ``queued``, the webhook deliveries the batch queued."""
    text = f"""
WITH details AS (
    INSERT INTO job_details (job_id, trace, logs, updated_at)
    SELECT d.job_id, d.trace, d.logs, :now
    FROM jsonb_to_recordset(CAST(:details AS jsonb)) AS d(job_id varchar, trace jsonb, logs jsonb)
    WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = d.job_id)
    {ending_sql.UPSERT_DETAILS}
),
moved AS (
    UPDATE jobs SET {ending_sql.SET_ENDED} FROM {ending_sql.POSTGRESQL_BATCH}
    WHERE {ending_sql.WHERE_ENDS}
    RETURNING {_RETURNED}
),
seconds AS (
    SELECT space_id,
           sum(greatest(0.0, CAST(extract(epoch FROM ended_at - claimed_at) AS float8))) AS n
    FROM moved
    WHERE claimed_at IS NOT NULL
    GROUP BY space_id
),
used AS (
    INSERT INTO space_usage AS u (space_id, month, used_seconds, billed_seconds)
    SELECT space_id, :month, n, {_billed("n", "0.0", "seconds.space_id")}
    FROM seconds
    ORDER BY space_id
    ON CONFLICT (space_id, month) DO UPDATE
    SET used_seconds = u.used_seconds + excluded.used_seconds,
        billed_seconds = u.billed_seconds
            + {_billed("excluded.used_seconds", "u.used_seconds", "u.space_id")}
    RETURNING 1
),
queued AS (
    INSERT INTO webhook_deliveries (id, webhook_id, space_id, job_id, event_type, payload,
        state, attempts, next_attempt_at, retry_since, created_at, updated_at)
    SELECT CAST(gen_random_uuid() AS text), w.id, m.space_id, m.id, e.event, NULL,
           '{DeliveryState.PENDING.value}', 0, :now, :now, :now, :now
    FROM moved m
    JOIN (VALUES {_EVENTS}) AS e(state, event) ON e.state = m.state
    JOIN webhooks w ON w.space_id = m.space_id AND w.enabled
    WHERE w.events @> jsonb_build_array(e.event)
      AND (w.all_rules OR EXISTS (SELECT 1 FROM webhook_rules r
                                  WHERE r.webhook_id = w.id AND r.base_id = m.base_id))
    RETURNING 1
),
told AS (
    SELECT pg_notify(:waiting, ''), pg_notify(:changed, string_agg(id, ','))
    FROM (SELECT id, (row_number() OVER () - 1) / {IDS_PER_NOTIFY} AS chunk FROM moved) numbered
    GROUP BY chunk
),
due AS (
    SELECT pg_notify(:webhooks, '') FROM (SELECT 1 FROM queued LIMIT 1) any_queued
)
SELECT
    (SELECT count(*) FROM used) AS usage_rows,
    (SELECT count(*) FROM told) AS told,
    (SELECT count(*) FROM due) AS due,
    (SELECT count(*) FROM queued) AS queued,
    moved.*
FROM (SELECT 1) AS one LEFT JOIN moved ON true
"""
    return ending_sql.typed(sa.text(text))


async def write(
    conn: AsyncConnection,
    endings: Sequence[JobEnding],
    now: datetime,
    canceled: Status,
    *,
    waiting: str,
    changed: str,
    webhooks: str,
) -> tuple[list[Any], int]:
    """Run :func:`statement` (on its own: it is atomic): the moved rows (the
    columns of ``_RETURNED``) and the webhook deliveries queued."""
    details = ending_sql.details_rows(endings)
    params = {
        "details": ending_sql.encode(details) if details else "[]",
        "batch": ending_sql.encode(ending_sql.batch_rows(endings)),
        "now": now,
        "month": month_of(now),
        "canceled_state": canceled.state.value,
        "canceled_code": canceled.code.value,
        "canceled_message": canceled.message,
        "waiting": waiting,
        "changed": changed,
        "webhooks": webhooks,
    }
    rows = (await conn.execute(statement(), params)).all()
    moved = [r for r in rows if r.id is not None]
    return moved, int(rows[0].queued) if rows else 0
