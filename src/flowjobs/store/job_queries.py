"""Jobs read: one by id (the API's most frequent request), by idempotency
key, listings by keyset, the watcher's stamps, counts per state and per
minute, a job's details."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError

from flowjobs.domain import (
    ACTIVE_STATES,
    FinishedMinute,
    JobDetails,
    JobListQuery,
    JobRecord,
    JobStamp,
    JobState,
    JobStatusCode,
)
from flowjobs.errors import StoreError
from flowjobs.store.database import Database
from flowjobs.store.rows import IDS_PER_QUERY, chunks, job_from_row, utc
from flowjobs.store.tables import job_details, jobs, spaces

_ACTIVE = [s.value for s in ACTIVE_STATES]
# A listing without ``full`` reads neither input nor output.
_SUMMARY_COLUMNS = [c for c in jobs.c if c.name not in ("input", "output")]

# GET /job/{id}: built once with bound parameters, so that each lookup skips
# building a statement and SQLAlchemy's compiled cache hits without a tree walk.
_JOB_BY_ID = jobs.select().where(jobs.c.id == sa.bindparam("job_id"))
_JOB_BY_ID_IN_SPACE = _JOB_BY_ID.where(jobs.c.space_id == sa.bindparam("space_id"))


@functools.cache
def _job_by_id_sql(*, in_space: bool) -> str:
    """The same lookups as PostgreSQL SQL for psycopg (``%(job_id)s`` parameters)."""
    query = _JOB_BY_ID_IN_SPACE if in_space else _JOB_BY_ID
    return str(query.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


class JobQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get_job(self, job_id: str, space_id: str | None = None) -> JobRecord | None:
        params = {"job_id": job_id, "space_id": space_id}
        if not self.db.is_sqlite:
            return await self._get_job_pg(params)
        query = _JOB_BY_ID if space_id is None else _JOB_BY_ID_IN_SPACE
        async with self.db.read() as conn:
            row = (await conn.execute(query, params)).first()
        return None if row is None else job_from_row(row)

    async def _get_job_pg(self, params: dict[str, str | None]) -> JobRecord | None:
        """PostgreSQL: the lookup sent through psycopg itself, on a pooled
        connection in autocommit. SQLAlchemy's execution and result layers cost
        as much CPU as psycopg's whole round trip, on the API's most frequent
        request (``GET /job/{id}``, polled by clients). A psycopg error
        invalidates the connection, so that the pool never hands it out again."""
        query = _job_by_id_sql(in_space=params["space_id"] is not None)
        try:
            async with self.db.autocommit_engine.connect() as conn:
                raw = (await conn.get_raw_connection()).driver_connection
                assert raw is not None  # a checked-out connection has its driver's
                try:
                    cursor = raw.cursor(row_factory=dict_row)
                    await cursor.execute(query, params)
                    row = await cursor.fetchone()
                except psycopg.Error:
                    await conn.invalidate()
                    raise
        except (SQLAlchemyError, psycopg.Error) as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"database error: {type(cause).__name__}") from exc
        return None if row is None else job_from_row(row)

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobRecord]:
        found: list[JobRecord] = []
        async with self.db.read() as conn:
            for chunk in chunks(job_ids, IDS_PER_QUERY):
                rows = (await conn.execute(jobs.select().where(jobs.c.id.in_(chunk)))).all()
                found.extend(job_from_row(r) for r in rows)
        return found

    async def job_stamps(self, job_ids: Sequence[str]) -> dict[str, JobStamp]:
        """What tells whether each job changed (state, last update, progress),
        without reading its input or output."""
        columns = (jobs.c.id, jobs.c.state, jobs.c.code, jobs.c.updated_at, jobs.c.progress)
        found: dict[str, JobStamp] = {}
        async with self.db.read() as conn:
            for chunk in chunks(job_ids, IDS_PER_QUERY):
                query = sa.select(*columns).where(jobs.c.id.in_(chunk))
                for r in (await conn.execute(query)).all():
                    updated_at = utc(r.updated_at)
                    assert updated_at is not None  # NOT NULL
                    found[r.id] = JobStamp(
                        JobState(r.state), JobStatusCode(r.code), updated_at, r.progress
                    )
        return found

    async def find_idempotent(
        self, space_id: str, key: str, since: datetime
    ) -> tuple[JobRecord, str] | None:
        """The job a start with this key created since ``since``, and the
        hash of that start's request."""
        query = jobs.select().where(
            jobs.c.space_id == space_id,
            jobs.c.idempotency_key == key,
            jobs.c.created_at >= since,
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (job_from_row(row), row.request_hash)

    async def list_jobs(self, query: JobListQuery) -> list[JobRecord]:
        """A space's jobs, newest first (``created_at``, then ``id``), after the
        ``query.after`` position; input and output only when ``query.full``."""
        select = sa.select(*(jobs.c if query.full else _SUMMARY_COLUMNS)).where(
            jobs.c.space_id == query.space_id
        )
        if query.states:
            select = select.where(jobs.c.state.in_(sorted(s.value for s in query.states)))
        if query.base_id is not None:
            select = select.where(jobs.c.base_id == query.base_id)
        if query.version is not None:
            select = select.where(jobs.c.version == query.version)
        if query.since is not None:
            select = select.where(jobs.c.created_at >= query.since)
        if query.after is not None:
            created_at, job_id = query.after
            # A row comparison: PostgreSQL seeks ix_jobs_space_created to it.
            select = select.where(
                sa.tuple_(jobs.c.created_at, jobs.c.id)
                < sa.tuple_(
                    sa.literal(created_at, jobs.c.created_at.type),
                    sa.literal(job_id, jobs.c.id.type),
                )
            )
        select = select.order_by(jobs.c.created_at.desc(), jobs.c.id.desc()).limit(query.limit)
        async with self.db.read() as conn:
            rows = (await conn.execute(select)).all()
        return [job_from_row(r) for r in rows]

    async def get_details(self, job_id: str) -> JobDetails | None:
        query = sa.select(job_details.c.trace, job_details.c.logs).where(
            job_details.c.job_id == job_id
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        logs = row.logs or {}
        return JobDetails(row.trace, logs.get("lines", []), logs.get("dropped", 0))

    # ---- counts -------------------------------------------------------------

    async def count_waiting(self, space_id: str) -> int:
        """The space's WAITING jobs: one range count on ``ix_jobs_space_state``."""
        query = sa.select(sa.func.count()).where(
            jobs.c.space_id == space_id, jobs.c.state == JobState.WAITING.value
        )
        async with self.db.read() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def job_counts(self, space_id: str) -> dict[JobState, int]:
        query = (
            sa.select(jobs.c.state, sa.func.count())
            .where(jobs.c.space_id == space_id)
            .group_by(jobs.c.state)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {JobState(r[0]): int(r[1]) for r in rows}

    async def queue_depths(self) -> list[tuple[str, JobState | None, int]]:
        """(space name, state, jobs) for the waiting and active jobs of every
        space, in one GROUP BY; a space without such jobs has one row
        (name, None, 0)."""
        queued = sa.and_(
            jobs.c.space_id == spaces.c.id,
            jobs.c.state.in_([JobState.WAITING.value, *_ACTIVE]),
        )
        query = (
            sa.select(spaces.c.name, jobs.c.state, sa.func.count(jobs.c.id))
            .select_from(spaces.outerjoin(jobs, queued))
            .group_by(spaces.c.name, jobs.c.state)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(r[0], None if r[1] is None else JobState(r[1]), int(r[2])) for r in rows]

    async def finished_per_minute(self, space_id: str, since: datetime) -> list[FinishedMinute]:
        """The space's jobs that ended at or after ``since``, counted per minute,
        oldest first; minutes without an ending are left out. Walks ix_jobs_ended."""
        minute = self._epoch_minute(jobs.c.ended_at)
        duration = self._seconds_between(jobs.c.claimed_at, jobs.c.ended_at)
        query = (
            sa.select(
                minute.label("minute"),
                sa.func.count().label("finished"),
                sa.func.count().filter(jobs.c.state == JobState.ERROR.value).label("failed"),
                sa.func.count(jobs.c.claimed_at).label("ran"),
                sa.func.coalesce(sa.func.sum(duration), 0.0).label("run_seconds"),
                sa.func.coalesce(sa.func.max(duration), 0.0).label("longest"),
            )
            .where(jobs.c.space_id == space_id, jobs.c.ended_at >= since)
            .group_by(minute)
            .order_by(minute)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            FinishedMinute(
                minute=datetime.fromtimestamp(int(r.minute) * 60, UTC),
                finished=r.finished,
                failed=r.failed,
                ran=r.ran,
                run_seconds=max(float(r.run_seconds), 0.0),
                longest_seconds=max(float(r.longest), 0.0),
            )
            for r in rows
        ]

    def _epoch_minute(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        """Whole minutes since 1970 of a timestamp column, in SQL."""
        if self.db.is_sqlite:
            return sa.cast(sa.func.strftime("%s", column), sa.Integer) // 60
        return sa.cast(sa.func.floor(sa.extract("epoch", column) / 60), sa.BigInteger)

    def _seconds_between(
        self, start: sa.ColumnElement[Any], end: sa.ColumnElement[Any]
    ) -> sa.ColumnElement[Any]:
        if self.db.is_sqlite:
            return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
        return sa.extract("epoch", end - start)
