"""The statements of the worker's batched end path: many jobs' endings
written in one transaction (run by store/endings.py).

A worker hands every job whose flow ended to one batcher; each batch is one
transaction: the jobs' final details upserted in one statement, the jobs moved
in one ``UPDATE ... FROM`` over the batch, then (in :meth:`EndingStore.end_jobs`)
the webhook outbox and usage of every job that moved, and one NOTIFY per
channel. The batch travels as one JSON parameter, unpacked by the database
(``jsonb_to_recordset`` on PostgreSQL, ``json_each`` on SQLite), so each
statement is text built once: SQLAlchemy compiles nothing per batch.

Each job moves on the same conditions as :meth:`JobStore.transition` with a
worker id: held by the ending's worker, and RUNNING (it ends with the ending's
status) or CANCELING (a cancel reached it first: it ends CANCELED by the user,
output and error untouched, as a cancel through ``JobManager.end_jobs`` does). So a cancel
racing a completion still gives exactly one end.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import FINAL_STATES, JobEnding, JobState, Status
from flowjobs.errors import StoreError
from flowjobs.store.tables import Timestamp, jobs

_RUNNING = JobState.RUNNING.value
_CANCELING = JobState.CANCELING.value
# What the UPDATE returns: what the outbox and usage need, and the code, which
# tells a job that ended as asked from one that a cancel reached first.
RETURNED = (
    jobs.c.id,
    jobs.c.space_id,
    jobs.c.base_id,
    jobs.c.state,
    jobs.c.code,
    jobs.c.claimed_at,
    jobs.c.ended_at,
)

# The SET list, the same on both databases: expressions see the row as it was.
SET_ENDED = f"""
    state = CASE WHEN jobs.state = '{_CANCELING}' THEN :canceled_state ELSE b.state END,
    code = CASE WHEN jobs.state = '{_CANCELING}' THEN :canceled_code ELSE b.code END,
    message = CASE WHEN jobs.state = '{_CANCELING}' THEN :canceled_message ELSE b.message END,
    output = CASE WHEN jobs.state = '{_CANCELING}' THEN jobs.output
                  ELSE COALESCE(b.output, jobs.output) END,
    error = CASE WHEN jobs.state = '{_CANCELING}' THEN jobs.error
                 ELSE COALESCE(b.error, jobs.error) END,
    progress = COALESCE(b.progress, jobs.progress),
    updated_at = :now,
    ended_at = :now,
    lease_expires_at = NULL
"""
WHERE_ENDS = f"""
    jobs.id = b.id AND jobs.worker_id = b.worker_id
    AND (jobs.state = '{_CANCELING}' OR (jobs.state = '{_RUNNING}' AND b.state IS NOT NULL))
"""
POSTGRESQL_BATCH = """
    jsonb_to_recordset(CAST(:batch AS jsonb)) AS b(
        id varchar, worker_id varchar, state varchar, code varchar, message text,
        output jsonb, error jsonb, progress jsonb)
"""
SQLITE_BATCH = """
    (SELECT value ->> '$.id' AS id, value ->> '$.worker_id' AS worker_id,
            value ->> '$.state' AS state, value ->> '$.code' AS code,
            value ->> '$.message' AS message, value -> '$.output' AS output,
            value -> '$.error' AS error, value -> '$.progress' AS progress
     FROM json_each(:batch)) AS b
"""
UPSERT_DETAILS = """
    ON CONFLICT (job_id) DO UPDATE
    SET trace = excluded.trace, logs = excluded.logs, updated_at = excluded.updated_at
"""


@functools.cache
def update_statement(sqlite: bool) -> sa.TextualSelect:
    """Move every job of the batch that qualifies; RETURNING the moved rows."""
    returned = ", ".join(f"jobs.{c.name}" for c in RETURNED)
    source = SQLITE_BATCH if sqlite else POSTGRESQL_BATCH
    text = f"UPDATE jobs SET {SET_ENDED} FROM {source} WHERE {WHERE_ENDS} RETURNING {returned}"
    return typed(sa.text(text)).columns(*RETURNED)


@functools.cache
def details_statement(sqlite: bool) -> sa.TextClause:
    """Upsert the final trace and logs of every ending that has them, in one
    statement (only for jobs that exist: a job deleted meanwhile, which
    cannot happen to a running job short of manual deletion, must not fail
    the batch on the foreign key)."""
    if sqlite:
        rows = """
            SELECT value ->> '$.job_id', value -> '$.trace', value -> '$.logs', :now
            FROM json_each(:details)
            WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = value ->> '$.job_id')
        """
    else:
        rows = """
            SELECT d.job_id, d.trace, d.logs, :now
            FROM jsonb_to_recordset(CAST(:details AS jsonb)) AS d(
                job_id varchar, trace jsonb, logs jsonb)
            WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = d.job_id)
        """
    text = f"INSERT INTO job_details (job_id, trace, logs, updated_at) {rows} {UPSERT_DETAILS}"
    return typed(sa.text(text))


def typed(statement: sa.TextClause) -> sa.TextClause:
    # ``now`` goes in as the columns' type, so SQLite stores the text format
    # that every other statement writes and compares.
    return statement.bindparams(sa.bindparam("now", type_=Timestamp))


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    # A key left out reads as SQL NULL on both databases (JSON null would be
    # the text 'null' on SQLite), which COALESCE then treats as "unchanged".
    return {k: v for k, v in values.items() if v is not None}


def batch_rows(endings: Sequence[JobEnding]) -> list[dict[str, Any]]:
    """One item per ending for the UPDATE, in job id order (deterministic).
    The order the database locks the rows in is its plan's; should it
    deadlock with another update of the same jobs (this worker's heartbeat),
    PostgreSQL aborts one of the two and the batch is written again."""
    rows = []
    for ending in sorted(endings, key=lambda e: e.job_id):
        status = ending.status
        if status is not None and status.state not in FINAL_STATES:
            raise ValueError(f"an ending must be final, not {status.state}")
        rows.append(
            _without_none(
                {
                    "id": ending.job_id,
                    "worker_id": ending.worker_id,
                    "state": None if status is None else status.state.value,
                    "code": None if status is None else status.code.value,
                    "message": None if status is None else status.message,
                    "output": ending.output,
                    "error": ending.error,
                    "progress": ending.progress,
                }
            )
        )
    return rows


def details_rows(endings: Sequence[JobEnding]) -> list[dict[str, Any]]:
    """The final trace and logs of the endings that have them (the shape
    :meth:`JobStore.save_details` writes), in job id order."""
    return [
        {
            "job_id": e.job_id,
            "trace": e.details.trace,
            "logs": {"lines": e.details.logs, "dropped": e.details.logs_dropped},
        }
        for e in sorted(endings, key=lambda e: e.job_id)
        if e.details is not None
    ]


def encode(rows: list[dict[str, Any]]) -> str:
    """The batch as one JSON text; a value that is not JSON is a StoreError
    (as it is when SQLAlchemy serialises one job's output)."""
    try:
        return json.dumps(rows)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"a job's end is not JSON: {exc}") from exc


def outcomes(
    endings: Sequence[JobEnding], moved: Sequence[Any], canceled: Status
) -> dict[str, Status]:
    """The status each moved job ended with, by id, from the rows the UPDATE
    returned (``id``, ``state``, ``code``): the ending's own, or ``canceled``
    when a cancel had reached the job first. Jobs that did not move are absent."""
    asked = {e.job_id: e.status for e in endings}
    found: dict[str, Status] = {}
    for row in moved:
        status = asked[row.id]
        as_asked = (
            status is not None and row.state == status.state.value and row.code == status.code.value
        )
        found[row.id] = status if as_asked and status is not None else canceled
    return found


async def write(
    conn: AsyncConnection,
    endings: Sequence[JobEnding],
    now: datetime,
    canceled: Status,
    *,
    sqlite: bool,
) -> Sequence[Any]:
    """Upsert the endings' details and move their jobs, inside the caller's
    transaction; the moved rows (the columns of ``RETURNED``)."""
    details = details_rows(endings)
    if details:
        await conn.execute(details_statement(sqlite), {"details": encode(details), "now": now})
    params = {
        "batch": encode(batch_rows(endings)),
        "now": now,
        "canceled_state": canceled.state.value,
        "canceled_code": canceled.code.value,
        "canceled_message": canceled.message,
    }
    return (await conn.execute(update_statement(sqlite), params)).all()
