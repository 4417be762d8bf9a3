"""Jobs written from the API's side: starts (batched with other concurrent
starts, store/starts.py), moves between states, cancels one or many, a
running job's details, and the retention of finished jobs. Reads are in
store/job_queries.py; the claim and leases in store/claims.py."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import (
    FINAL_STATES,
    CancelCounts,
    JobDetails,
    JobRecord,
    JobState,
    NewJob,
    Status,
)
from flowjobs.store import rules as rule_sql
from flowjobs.store.database import CANCEL_CHANNEL, JOB_CHANNEL, WAITING_CHANNEL, Database
from flowjobs.store.endings import update_jobs
from flowjobs.store.outbox import has_subscribers
from flowjobs.store.rows import job_from_row, status_values
from flowjobs.store.starts import BatchWriter, StartBatcher
from flowjobs.store.tables import job_details, jobs

_FINAL = sorted(s.value for s in FINAL_STATES)
_UNSET: Any = object()


@functools.cache
def _request_cancel_statement() -> sa.Select[Any]:
    """PostgreSQL: a RUNNING job of the space becomes CANCELING, and the
    worker (its id in the payload: no query needed to find it) and the job's
    watchers are told, in one statement. Built once, with bound parameters
    (named unlike the columns: an UPDATE's parameters named as columns are
    taken as values to SET)."""
    moved = (
        jobs.update()
        .where(
            jobs.c.id == sa.bindparam("target_job"),
            jobs.c.space_id == sa.bindparam("target_space"),
            jobs.c.state == JobState.RUNNING.value,
        )
        .values(
            state=sa.bindparam("new_state"),
            code=sa.bindparam("new_code"),
            message=sa.bindparam("new_message"),
            updated_at=sa.bindparam("now", type_=jobs.c.updated_at.type),
        )
        .returning(*jobs.c)
        .cte("moved")
    )
    return sa.select(
        moved,
        sa.func.pg_notify(CANCEL_CHANNEL, moved.c.id).label("told_worker"),
        sa.func.pg_notify(JOB_CHANNEL, moved.c.id).label("told_watchers"),
    )


def prune_batch(before: datetime, batch_size: int) -> sa.Delete:
    """One batch of :meth:`JobStore.prune_finished`: the oldest finished jobs
    that ended before ``before``, deleted by primary key. The ORDER BY makes
    PostgreSQL walk ix_jobs_ended and stop after ``batch_size`` rows; without
    it, it chose a sequential scan (docs/operations.md, query plans)."""
    pick = (
        sa.select(jobs.c.id)
        .where(jobs.c.state.in_(_FINAL), jobs.c.ended_at < before)
        .order_by(jobs.c.ended_at)
        .limit(batch_size)
    )
    return jobs.delete().where(jobs.c.id.in_(pick.scalar_subquery()))


def _job_values(new: NewJob, now: datetime, status: Status) -> dict[str, Any]:
    """Every column of a new job's row."""
    return {
        "id": new.id,
        "space_id": new.space.id,
        "base_id": new.rule.base_id,
        "version": new.rule.version,
        "rule_type": new.rule.type,
        "correlation_id": new.correlation_id,
        "input": new.input,
        "output": None,
        "error": None,
        "state": status.state.value,
        "code": status.code.value,
        "message": status.message,
        "priority": new.priority,
        "parallel_limit": new.space.parallel_limit,
        "environment_group": new.environment_group,
        "api_key_id": new.api_key.id,
        "api_key_name": new.api_key.name,
        "execution_limit_s": new.execution_limit_s,
        "retry_on_loss": new.retry_on_loss,
        "created_at": now,
        "updated_at": now,
        "claimed_at": None,
        "ended_at": None,
        "worker_id": None,
        "attempts": 0,
        "idempotency_key": new.idempotency.key if new.idempotency else None,
        "request_hash": new.idempotency.request_hash if new.idempotency else None,
        "rerun_of": new.rerun_of,
    }


async def _release_key(
    conn: AsyncConnection, space_id: str, key: str, expire_before: datetime
) -> None:
    await conn.execute(
        jobs.update()
        .where(
            jobs.c.space_id == space_id,
            jobs.c.idempotency_key == key,
            jobs.c.created_at < expire_before,
        )
        .values(idempotency_key=None)
    )


class JobStore:
    def __init__(self, db: Database, *, start_batch_rows: int = 500) -> None:
        self.db = db
        # Group commit of starts without an Idempotency-Key (store/starts.py).
        # PostgreSQL: two batches in flight, so one is built while the other
        # is written; SQLite has one writer, so one.
        self.start_writer = BatchWriter(
            db.engine if db.is_sqlite else db.autocommit_engine,
            is_sqlite=db.is_sqlite,
            channel=WAITING_CHANNEL,
        )
        self.starts = StartBatcher(
            self.start_writer,
            max_rows=start_batch_rows,
            max_batches=1 if db.is_sqlite else 2,
        )

    async def close(self) -> None:
        """Write the starts still queued, then let go of the batch writer."""
        await self.starts.drain()
        await self.start_writer.close()

    async def insert_job(
        self,
        new: NewJob,
        now: datetime,
        status: Status,
        *,
        keys_expire_before: datetime | None = None,
    ) -> JobRecord:
        """Enqueue one job; :class:`RuleVersionNotFoundError` if its version
        was deleted since the start looked it up. Without an idempotency key
        the row is written in a batch with other concurrent starts
        (store/starts.py); returns once it is committed. With one, in a
        transaction of its own: a job of the space that holds the same key
        since before ``keys_expire_before`` gives it up in that transaction;
        one that holds it since later makes the insert fail with
        :class:`AlreadyExistsError` (the unique index)."""
        values = _job_values(new, now, status)
        if new.idempotency is None:
            await self.starts.insert(values)  # with the starts of other requests
            return job_from_row(values)
        async with self.db.write() as conn:
            # the version may have been deleted since the start looked it up
            await rule_sql.require_version(
                conn, new.rule.base_id, new.rule.version, lock=not self.db.is_sqlite
            )
            if keys_expire_before is not None:
                await _release_key(conn, new.space.id, new.idempotency.key, keys_expire_before)
            await conn.execute(jobs.insert().values(**values))
            await self.db.notify(conn, WAITING_CHANNEL)
        return job_from_row(values)

    async def transition(
        self,
        job_id: str,
        expect: Iterable[JobState],
        status: Status,
        now: datetime,
        *,
        space_id: str | None = None,
        worker_id: str | None = None,
        output: Any = _UNSET,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """Move one job to ``status`` if it is in one of ``expect`` (and, when
        given, in that space and held by that worker). True if it moved."""
        query = jobs.update().where(
            jobs.c.id == job_id, jobs.c.state.in_([s.value for s in expect])
        )
        if space_id is not None:
            query = query.where(jobs.c.space_id == space_id)
        if worker_id is not None:
            query = query.where(jobs.c.worker_id == worker_id)
        values = status_values(status, now)
        if output is not _UNSET:
            values["output"] = output
        if error is not None:
            values["error"] = error
        async with self.db.write() as conn:
            moved = await update_jobs(conn, query.values(**values), status, now)
            if moved:
                await self.db.notify_change(conn, status)
                await self.db.notify_jobs(conn, [job_id])
        return moved == 1

    async def request_cancel(
        self, job_id: str, space_id: str, status: Status, now: datetime
    ) -> JobRecord | None:
        """Move a RUNNING job of the space to ``status`` (CANCELING) and tell
        its worker; the job as it is now, or None if it was not RUNNING.
        PostgreSQL: one statement, one round trip (no BEGIN, no COMMIT, no
        second read); the cancel notification names the job."""
        assert status.state is JobState.CANCELING
        parameters = {
            "target_job": job_id,
            "target_space": space_id,
            "new_state": status.state.value,
            "new_code": status.code.value,
            "new_message": status.message,
            "now": now,
        }
        if self.db.is_sqlite:
            return await self._request_cancel_in_transaction(parameters)
        async with self.db.one_statement() as conn:
            row = (await conn.execute(_request_cancel_statement(), parameters)).first()
        return None if row is None else job_from_row(row)

    async def _request_cancel_in_transaction(self, parameters: dict[str, Any]) -> JobRecord | None:
        query = (
            jobs.update()
            .where(
                jobs.c.id == parameters["target_job"],
                jobs.c.space_id == parameters["target_space"],
                jobs.c.state == JobState.RUNNING.value,
            )
            .values(
                state=parameters["new_state"],
                code=parameters["new_code"],
                message=parameters["new_message"],
                updated_at=parameters["now"],
            )
            .returning(*jobs.c)
        )
        async with self.db.write() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else job_from_row(row)

    async def cancel_many(
        self,
        filters: Mapping[str, Any],
        now: datetime,
        *,
        canceled: Status,
        canceling: Status | None,
    ) -> CancelCounts:
        """Set-based cancel of every waiting (and optionally running) job
        matching ``filters`` (column name -> value): two UPDATEs, one transaction."""
        where = [jobs.c[name] == value for name, value in filters.items()]
        waiting = (
            jobs.update()
            .where(*where, jobs.c.state == JobState.WAITING.value)
            .values(**status_values(canceled, now))
        )
        async with self.db.write() as conn:
            if await has_subscribers(conn, filters, canceled.state):
                canceled_count = await update_jobs(conn, waiting, canceled, now)
            else:  # no webhook to tell: skip RETURNING up to 100,000 rows
                canceled_count = int((await conn.execute(waiting)).rowcount)
            running_count = 0
            if canceling is not None:
                running = await conn.execute(
                    jobs.update()
                    .where(*where, jobs.c.state == JobState.RUNNING.value)
                    .values(**status_values(canceling, now))
                )
                running_count = running.rowcount
                if running_count:
                    await self.db.notify(conn, CANCEL_CHANNEL)
            if canceled_count or running_count:
                await self.db.notify_jobs(conn, None)
        return CancelCounts(canceled=canceled_count, canceling=running_count)

    async def save_details(
        self,
        job_id: str,
        details: JobDetails,
        progress: dict[str, int] | None,
        now: datetime,
    ) -> None:
        """Upsert a job's trace and logs, and set its progress, in one transaction."""
        values = {
            "job_id": job_id,
            "trace": details.trace,
            "logs": {"lines": details.logs, "dropped": details.logs_dropped},
            "updated_at": now,
        }
        dialect_insert = sqlite_insert if self.db.is_sqlite else postgresql_insert
        insert = dialect_insert(job_details).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=[job_details.c.job_id],
            set_={k: insert.excluded[k] for k in ("trace", "logs", "updated_at")},
        )
        async with self.db.write() as conn:
            await conn.execute(upsert)
            if progress is not None:
                await conn.execute(
                    jobs.update().where(jobs.c.id == job_id).values(progress=progress)
                )
                await self.db.notify_jobs(conn, [job_id])

    async def prune_finished(self, before: datetime, batch_size: int = 5000) -> int:
        """Delete finished jobs (COMPLETED, CANCELED, ERROR) that ended before
        ``before``, ``batch_size`` at a time, each batch its own short
        transaction. Their job_details rows go with them (ON DELETE CASCADE;
        SQLite enforces it because every connection sets ``foreign_keys=ON``)."""
        deleted = 0
        while True:
            async with self.db.write() as conn:
                count = int((await conn.execute(prune_batch(before, batch_size))).rowcount)
            deleted += count
            if count < batch_size:
                return deleted
