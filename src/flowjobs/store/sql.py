"""Every SQL statement of flowjobs, for SQLite and PostgreSQL.

The store does raw database I/O and nothing else: it knows the tables and the
conditional updates that move a job between states, but not *why* a job moves.
Driver errors are wrapped here, so no sqlite3 or psycopg error leaks upward.

SQLite: every write transaction starts with ``BEGIN IMMEDIATE``, which takes
the database's single writer lock up front. Claims are therefore serialised
across every process that opens the file, which is what keeps a space's
``parallelLimit`` exact. Reads use a second engine in autocommit mode (each
read is one statement, so one implicit snapshot), so that they never wait for
a writer (WAL mode).

PostgreSQL: a claim is one statement (store/claim.py): waiting jobs are
picked with ``FOR UPDATE SKIP LOCKED``, so workers never wait on each other's
candidates; the spaces' rows are locked and rewritten, so two workers
claiming for the same space queue behind each other, and a claim whose
snapshot missed another's runs again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import select
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import sqlalchemy as sa
from psycopg.rows import dict_row
from sqlalchemy import event
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row, make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from flowjobs.domain import (
    ACTIVE_STATES,
    FINAL_STATES,
    ApiKey,
    CancelCounts,
    ClaimedJob,
    EndedJob,
    EndingsWritten,
    ExpiredLease,
    FinishedMinute,
    Heartbeat,
    JobDetails,
    JobEnding,
    JobListQuery,
    JobRecord,
    JobStamp,
    JobState,
    JobStatusCode,
    KeyKind,
    KeyListing,
    MonthUsage,
    NewJob,
    RuleStatus,
    RuleVersion,
    Space,
    Status,
    WorkerInfo,
)
from flowjobs.errors import AlreadyExistsError, StoreError
from flowjobs.store import audits as audit_sql
from flowjobs.store import claim as claim_sql
from flowjobs.store import endings as ending_sql
from flowjobs.store import endings_pg as ending_pg
from flowjobs.store import rules as rule_sql
from flowjobs.store import usage
from flowjobs.store.outbox import WEBHOOK_CHANNEL, enqueue_job_events, has_subscribers
from flowjobs.store.rules import version_from_row, versions_query
from flowjobs.store.starts import BatchWriter, StartBatcher
from flowjobs.store.tables import (
    api_keys,
    job_details,
    jobs,
    rule_versions,
    rules,
    spaces,
    workers,
)
from flowjobs.store.usage import add_usage

_ACTIVE = [s.value for s in ACTIVE_STATES]
_FINAL = sorted(s.value for s in FINAL_STATES)
# What a worker that registers again resets (its started_at stays).
_WORKER_REVIVE = ("host", "pid", "concurrency", "running", "last_heartbeat_at", "stopped_at")
WAITING_CHANNEL = "flowjobs_waiting"  # a job was queued or a slot was freed
CANCEL_CHANNEL = "flowjobs_cancel"  # a running job was asked to cancel
# A job's state or progress changed. Payload: job ids, comma-separated; empty
# when many jobs changed at once (cancelAll), meaning "any watched job".
JOB_CHANNEL = "flowjobs_job"
_IDS_PER_NOTIFY = claim_sql.IDS_PER_NOTIFY
_IDS_PER_QUERY = 500  # ids in one WHERE id IN (...)
# A listing without ``full`` reads neither input nor output.
_SUMMARY_COLUMNS = [c for c in jobs.c if c.name not in ("input", "output")]
log = logging.getLogger("flowjobs.store")
_UNSET: Any = object()
_Method = TypeVar("_Method", bound=Callable[..., Awaitable[Any]])
# What an UPDATE that ends jobs returns, for the work done in its transaction.
_ENDED_COLUMNS = (
    jobs.c.id,
    jobs.c.space_id,
    jobs.c.base_id,
    jobs.c.state,
    jobs.c.claimed_at,
    jobs.c.ended_at,
)


# GET /job/{id}: built once with bound parameters, so that each lookup skips
# building a statement and SQLAlchemy's compiled cache hits without a tree walk.
_JOB_BY_ID = jobs.select().where(jobs.c.id == sa.bindparam("job_id"))
_JOB_BY_ID_IN_SPACE = _JOB_BY_ID.where(jobs.c.space_id == sa.bindparam("space_id"))


@functools.cache
def _job_by_id_sql(*, in_space: bool) -> str:
    """The same lookups as PostgreSQL SQL for psycopg (``%(job_id)s`` parameters)."""
    query = _JOB_BY_ID_IN_SPACE if in_space else _JOB_BY_ID
    return str(query.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]


def _ended(rows: Sequence[Row[Any]]) -> list[EndedJob]:
    return [
        EndedJob(
            r.id,
            r.space_id,
            r.base_id,
            JobState(r.state),
            _utc(r.claimed_at),
            _utc(r.ended_at) or _utc(r.claimed_at),  # type: ignore[arg-type]
        )
        for r in rows
    ]


def async_url(url: str) -> str:
    """Map a plain database URL to the async driver flowjobs uses."""
    for plain, driver in (
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://", "postgresql+psycopg://"),
        ("postgres://", "postgresql+psycopg://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url


def sync_url(url: str) -> str:
    """The same database through a synchronous driver (for Alembic)."""
    url = async_url(url)
    return url.replace("sqlite+aiosqlite://", "sqlite://")


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any) -> None:
    dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below decide
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=30000",
        "PRAGMA foreign_keys=ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def _discard_if_closed(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """PostgreSQL pool checkout: refuse a connection the server has closed.

    This replaces ``pool_pre_ping``, whose ``SELECT 1`` cost a round trip on
    every checkout (a fifth of a one-statement start or claim). An idle pooled
    connection has nothing to read, so a socket that is readable (or a
    connection psycopg already knows is broken) means the server ended it: a
    restart, ``pg_terminate_backend``, an idle timeout. Raising
    ``DisconnectionError`` makes the pool open a fresh connection instead, so
    the caller never sees the dead one. A connection lost silently (no FIN,
    say a dropped network) is found on first use, as with pre-ping's own
    failure: the statement fails with a ``StoreError`` and the pool is
    invalidated; the worker's loops and ``_persist`` retry."""
    pgconn = record.driver_connection.pgconn
    try:
        if pgconn.status != psycopg.pq.ConnStatus.OK:
            raise DisconnectionError("connection closed")
        if _readable(pgconn.socket):
            raise DisconnectionError("the server closed the connection")
    except psycopg.Error as exc:  # no socket any more
        raise DisconnectionError(str(exc)) from exc


def _readable(fd: int) -> bool:
    """Whether the socket has something to read, without waiting."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # Windows: no poll()


# Every PostgreSQL session of the store: no JIT. Its threshold is a plan
# cost, which set-based statements over many rows pass (a bulk cancel, a
# batch of ends), and compiling their plan takes longer than running it.
SESSION_OPTIONS = "-c jit=off"


def _with_given_options(url: str, options: str) -> str:
    """``options`` after any the database URL gives (``?options=...``), which
    connect_args would otherwise replace."""
    given = make_url(url).query.get("options")
    if isinstance(given, tuple):
        given = " ".join(given)
    return f"{given} {options}" if given else options


def _make_engine(
    url: str,
    *,
    begin: str | None,
    pool_size: int,
    max_overflow: int = 0,
    options: str = SESSION_OPTIONS,
) -> AsyncEngine:
    is_sqlite = url.startswith("sqlite")
    kwargs: dict[str, Any] = (
        {}
        if is_sqlite
        else {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "connect_args": {"options": _with_given_options(url, options)},
        }
    )
    if is_sqlite and begin is not None:
        # The SQLite write engine: no ROLLBACK when a connection goes back to
        # the pool (a hop to aiosqlite's thread each time). Every transaction
        # on it is ended before that: SQLAlchemy's own (``begin()``, and the
        # autobegun ones, which it closes itself), and the start batch's,
        # which commits or rolls back within its one call on the thread
        # (store/starts.py); the driver is in autocommit between them.
        kwargs["pool_reset_on_return"] = None
    engine = create_async_engine(url, **kwargs)
    if not is_sqlite:
        event.listen(engine.sync_engine.pool, "checkout", _discard_if_closed)
    if is_sqlite:

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            _sqlite_pragmas(dbapi_connection)

        if begin is not None:

            @event.listens_for(engine.sync_engine, "begin")
            def _on_begin(conn: Any) -> None:
                conn.exec_driver_sql(f"BEGIN {begin}")

    return engine


def _store_error(exc: SQLAlchemyError) -> StoreError:
    cause = getattr(exc, "orig", None) or exc
    return StoreError(f"database error: {type(cause).__name__}")


def _space_from_row(row: Row[Any]) -> Space:
    return Space(
        row.id,
        row.name,
        row.parallel_limit,
        row.priority,
        quota_seconds=row.quota_seconds,
        pay_as_you_go=bool(row.pay_as_you_go),
    )


def _job_from_row(row: Row[Any] | Mapping[str, Any]) -> JobRecord:
    m = row._mapping if isinstance(row, Row) else row
    return JobRecord(
        id=m["id"],
        space_id=m["space_id"],
        base_id=m["base_id"],
        version=m["version"],
        rule_type=m["rule_type"],
        correlation_id=m["correlation_id"],
        input=m.get("input"),
        output=m.get("output"),
        error=m["error"],
        state=JobState(m["state"]),
        code=JobStatusCode(m["code"]),
        message=m["message"],
        priority=m["priority"],
        parallel_limit=m["parallel_limit"],
        environment_group=m["environment_group"],
        api_key_id=m["api_key_id"],
        api_key_name=m["api_key_name"],
        execution_limit_s=m["execution_limit_s"],
        created_at=_utc(m["created_at"]),  # type: ignore[arg-type]
        updated_at=_utc(m["updated_at"]),  # type: ignore[arg-type]
        claimed_at=_utc(m["claimed_at"]),
        ended_at=_utc(m["ended_at"]),
        worker_id=m["worker_id"],
        attempts=m["attempts"],
        progress=m.get("progress"),
        rerun_of=m.get("rerun_of"),
    )


def _chunks(ids: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _status_values(status: Status, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "state": status.state.value,
        "code": status.code.value,
        "message": status.message,
        "updated_at": now,
    }
    if status.state in (JobState.COMPLETED, JobState.CANCELED, JobState.ERROR):
        values["ended_at"] = now
        values["lease_expires_at"] = None
    return values


def _changes_catalog(method: _Method) -> _Method:
    """Mark a method that writes spaces, keys or rules: it bumps
    :attr:`SqlStore.catalog_generation`, which tells the manager's short-lived
    caches of those rows that this process changed them."""

    @functools.wraps(method)
    async def wrapper(self: SqlStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        finally:
            self.catalog_generation += 1

    return wrapper  # type: ignore[return-value]


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


def _pick_within_limits(
    candidates: Sequence[Any], load: dict[str, tuple[int, int]]
) -> list[tuple[Any, int]]:
    """SQLite claim: the candidates (in claim order) whose space has a free
    slot, each with its space's running count once it is taken; ``load``
    (space: running, limit) is updated as jobs are picked."""
    picked = []
    for candidate in candidates:
        running, space_limit = load[candidate.space_id]
        if running >= space_limit:
            continue  # its space is full: the job stays waiting
        load[candidate.space_id] = (running + 1, space_limit)
        picked.append((candidate, running + 1))
    return picked


async def _claim_instants(
    conn: AsyncConnection,
    now: datetime,
    picked: list[tuple[Any, int]],
    load: dict[str, tuple[int, int]],
) -> list[tuple[Any, datetime]]:
    """SQLite claim: each picked job with its claimedAt (store/claim.py says
    why): ``now``, unless more jobs of its space ended after ``now`` (stamped
    so by a clock read later) than the space has slots left beside it; then
    the end after which only that many remain, so that no instant sees more
    than the space's parallelLimit of [claimedAt, endedAt) intervals."""
    ends: dict[str, list[datetime]] = {}
    for space_id, ended_at in await conn.execute(claim_sql.ENDS_AFTER, {"after": now}):
        # SQLite hands back naive datetimes; everything stored is UTC
        ends.setdefault(space_id, []).append(ended_at.replace(tzinfo=UTC))
    instants = []
    for candidate, running in picked:
        late = sorted(ends.get(candidate.space_id, []), reverse=True)
        slack = load[candidate.space_id][1] - running  # slots left once it is taken
        instants.append((candidate, late[slack] if len(late) > slack else now))
    return instants


def _rules_of(taken: Iterable[JobRecord]) -> dict[tuple[str, int], dict[str, Any]]:
    """The DOCUMENT parameters of each distinct rule version of these jobs."""
    return {
        (job.base_id, job.version): {"rule": job.base_id, "rule_version": job.version}
        for job in taken
    }


class SqlStore:
    """The store over SQLAlchemy Core; one instance per process."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 5,
        start_batch_rows: int = 500,
    ) -> None:
        self.url = async_url(url)
        self.catalog_generation = 0  # bumped by every write of spaces, keys or rules
        self.is_sqlite = self.url.startswith("sqlite")
        self._engine = _make_engine(
            self.url,
            begin="IMMEDIATE" if self.is_sqlite else None,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        # One-statement writes: atomic on their own, so no BEGIN/COMMIT round trips.
        self._autocommit = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_engine = (
            _make_engine(self.url, begin=None, pool_size=pool_size)
            if self.is_sqlite
            else self._engine
        )
        # Group commit of starts without an Idempotency-Key (store/starts.py).
        # PostgreSQL: two batches in flight, so one is built while the other
        # is written; SQLite has one writer, so one.
        self._start_writer = BatchWriter(
            self._engine if self.is_sqlite else self._autocommit,
            is_sqlite=self.is_sqlite,
            channel=WAITING_CHANNEL,
        )
        self._starts = StartBatcher(
            self._start_writer,
            max_rows=start_batch_rows,
            max_batches=1 if self.is_sqlite else 2,
        )
        # PostgreSQL: the claims' own pool (a worker claims one batch at a
        # time; +1 for the retry under locks), its sessions planned as
        # claim_sql.SESSION_OPTIONS says. A pool opens no connection until
        # used, so processes that never claim pay nothing for it.
        self._claim_engine = (
            self._engine
            if self.is_sqlite
            else _make_engine(
                self.url,
                begin=None,
                pool_size=1,
                max_overflow=1,
                options=f"{SESSION_OPTIONS} {claim_sql.SESSION_OPTIONS}",
            )
        )
        self._claim_autocommit = self._claim_engine.execution_options(isolation_level="AUTOCOMMIT")

    async def close(self) -> None:
        await self._starts.drain()
        await self._start_writer.close()
        await self._engine.dispose()
        if self._claim_engine is not self._engine:
            await self._claim_engine.dispose()
        if self._read_engine is not self._engine:
            await self._read_engine.dispose()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.begin() as conn:
                yield conn
        except IntegrityError as exc:
            raise AlreadyExistsError(str(exc.orig).splitlines()[0]) from exc
        except SQLAlchemyError as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"database error: {type(cause).__name__}") from exc

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        # PostgreSQL reads run in autocommit: under READ COMMITTED each statement
        # takes its own snapshot whether in a transaction or not, so a read
        # transaction only added a BEGIN and a ROLLBACK round trip to each read.
        engine = self._read_engine if self.is_sqlite else self._autocommit
        try:
            async with engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {type(exc).__name__}") from exc

    # ---- spaces and keys -------------------------------------------------

    @_changes_catalog
    async def insert_space(self, space: Space, now: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                spaces.insert().values(
                    id=space.id,
                    name=space.name,
                    parallel_limit=space.parallel_limit,
                    priority=space.priority,
                    created_at=now,
                    quota_seconds=space.quota_seconds,
                    pay_as_you_go=space.pay_as_you_go,
                )
            )

    async def find_space(self, id_or_name: str) -> Space | None:
        query = spaces.select().where(
            sa.or_(spaces.c.id == id_or_name, spaces.c.name == id_or_name)
        )
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _space_from_row(row)

    async def list_spaces(self) -> list[Space]:
        """Every space, by name."""
        async with self._read() as conn:
            rows = (await conn.execute(spaces.select().order_by(spaces.c.name))).all()
        return [_space_from_row(row) for row in rows]

    @_changes_catalog
    async def update_space_billing(
        self, space_id: str, quota_seconds: float | None, pay_as_you_go: bool
    ) -> None:
        """Set a space's monthly quota (None: unlimited) and pay-as-you-go."""
        async with self._write() as conn:
            await conn.execute(
                spaces.update()
                .where(spaces.c.id == space_id)
                .values(quota_seconds=quota_seconds, pay_as_you_go=pay_as_you_go)
            )

    async def month_usage(self, space_id: str, month: str) -> MonthUsage:
        """A space's execution seconds in a month ("YYYY-MM"): one primary-key read."""
        async with self._read() as conn:
            return await usage.month_usage(conn, space_id, month)

    async def month_job_counts(
        self, space_id: str, created_from: datetime, created_before: datetime
    ) -> dict[JobState, int]:
        """A space's jobs created in [created_from, created_before), per state."""
        async with self._read() as conn:
            return await usage.job_counts(conn, space_id, created_from, created_before)

    @_changes_catalog
    async def insert_key(self, key: ApiKey, key_hash: str, now: datetime) -> None:
        async with self._write() as conn:
            await conn.execute(
                api_keys.insert().values(
                    id=key.id,
                    space_id=key.space_id,
                    name=key.name,
                    kind=key.kind.value,
                    key_hash=key_hash,
                    created_at=now,
                )
            )

    async def find_key(self, key_hash: str) -> ApiKey | None:
        query = api_keys.select().where(
            api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None)
        )
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return ApiKey(row.id, row.space_id, row.name, KeyKind(row.kind))

    async def find_key_by_id(self, key_id: str) -> ApiKey | None:
        """A key that exists and is not revoked, by its id (dashboard sessions)."""
        query = api_keys.select().where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        return ApiKey(row.id, row.space_id, row.name, KeyKind(row.kind))

    async def list_keys(self, space_id: str) -> list[KeyListing]:
        query = api_keys.select().where(api_keys.c.space_id == space_id)
        async with self._read() as conn:
            rows = (await conn.execute(query.order_by(api_keys.c.created_at))).all()
        return [
            KeyListing(
                ApiKey(r.id, r.space_id, r.name, KeyKind(r.kind)),
                _utc(r.created_at) or r.created_at,
                _utc(r.revoked_at),
            )
            for r in rows
        ]

    @_changes_catalog
    async def revoke_key(self, key_id: str, now: datetime) -> bool:
        """Set the key's ``revoked_at`` unless it is revoked already; False
        when no key has that id. A revoked key stays listed, never reused."""
        async with self._write() as conn:
            found = (
                await conn.execute(sa.select(api_keys.c.id).where(api_keys.c.id == key_id))
            ).first()
            await conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return found is not None

    async def count_waiting(self, space_id: str) -> int:
        """The space's WAITING jobs: one range count on ``ix_jobs_space_state``."""
        query = sa.select(sa.func.count()).where(
            jobs.c.space_id == space_id, jobs.c.state == JobState.WAITING.value
        )
        async with self._read() as conn:
            return int((await conn.execute(query)).scalar_one())

    # ---- rules -------------------------------------------------------------

    async def find_rule_versions(self, space_id: str, identifier: str) -> list[RuleVersion]:
        """All versions of the rule whose baseId or alias is ``identifier``, oldest first."""
        query = versions_query().where(
            rules.c.space_id == space_id,
            sa.or_(rules.c.base_id == identifier, rules.c.alias == identifier),
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [version_from_row(r) for r in rows]

    async def list_rule_versions(self, space_id: str) -> list[RuleVersion]:
        """Every version of every rule of the space, by alias then version."""
        async with self._read() as conn:
            rows = (await conn.execute(versions_query().where(rules.c.space_id == space_id))).all()
        return [version_from_row(r) for r in rows]

    @_changes_catalog
    async def insert_rule_version(
        self, rule: RuleVersion, now: datetime, *, new_rule: bool
    ) -> None:
        async with self._write() as conn:
            if new_rule:
                await conn.execute(
                    rules.insert().values(
                        base_id=rule.base_id,
                        space_id=rule.space_id,
                        alias=rule.alias,
                        name=rule.name,
                        description=rule.description,
                        type=rule.type,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                await conn.execute(
                    rules.update()
                    .where(rules.c.base_id == rule.base_id)
                    .values(name=rule.name, description=rule.description, updated_at=now)
                )
            await conn.execute(
                rule_versions.insert().values(
                    base_id=rule.base_id,
                    version=rule.version,
                    status=rule.status.value,
                    document=rule.document,
                    created_at=now,
                    updated_at=now,
                )
            )

    @_changes_catalog
    async def set_rule_status(
        self, base_id: str, version: int, status: RuleStatus, now: datetime
    ) -> bool:
        """False if the version does not exist."""
        async with self._write() as conn:
            result = await conn.execute(
                rule_versions.update()
                .where(rule_versions.c.base_id == base_id, rule_versions.c.version == version)
                .values(status=status.value, updated_at=now)
            )
        return result.rowcount == 1

    @_changes_catalog
    async def insert_next_version(self, rule: RuleVersion, now: datetime) -> int | None:
        """Store ``rule`` as its rule's next version; its number, or None if the
        rule no longer exists. Concurrent calls get distinct numbers."""
        async with self._write() as conn:
            return await rule_sql.insert_next_version(conn, rule, now, lock=not self.is_sqlite)

    @_changes_catalog
    async def update_rule_version(self, rule: RuleVersion, now: datetime, *, latest: bool) -> bool:
        """Replace a version's document and status; False if it does not exist."""
        async with self._write() as conn:
            return await rule_sql.update_version(
                conn, rule, now, latest=latest, lock=not self.is_sqlite
            )

    @_changes_catalog
    async def delete_rule_versions(self, base_id: str, versions: list[int]) -> tuple[int, int]:
        """Delete versions (and the rule with its last one) in one transaction,
        unless jobs still need them: (jobs waiting or running, versions deleted)."""
        async with self._write() as conn:
            return await rule_sql.delete_versions(conn, base_id, versions, lock=not self.is_sqlite)

    # ---- jobs: the API side ---------------------------------------------------

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
        values = {
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
        if new.idempotency is None:
            await self._starts.insert(values)  # with the starts of other requests
            return _job_from_row(values)
        async with self._write() as conn:
            # the version may have been deleted since the start looked it up
            await rule_sql.require_version(
                conn, new.rule.base_id, new.rule.version, lock=not self.is_sqlite
            )
            if new.idempotency is not None and keys_expire_before is not None:
                await self._release_key(conn, new.space.id, new.idempotency.key, keys_expire_before)
            await conn.execute(jobs.insert().values(**values))
            await self._notify(conn, WAITING_CHANNEL)
        return _job_from_row(values)

    @staticmethod
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
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else (_job_from_row(row), row.request_hash)

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
        async with self._read() as conn:
            rows = (await conn.execute(select)).all()
        return [_job_from_row(r) for r in rows]

    async def job_counts(self, space_id: str) -> dict[JobState, int]:
        query = (
            sa.select(jobs.c.state, sa.func.count())
            .where(jobs.c.space_id == space_id)
            .group_by(jobs.c.state)
        )
        async with self._read() as conn:
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
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [(r[0], None if r[1] is None else JobState(r[1]), int(r[2])) for r in rows]

    async def job_stamps(self, job_ids: Sequence[str]) -> dict[str, JobStamp]:
        """What tells whether each job changed (state, last update, progress),
        without reading its input or output."""
        columns = (jobs.c.id, jobs.c.state, jobs.c.code, jobs.c.updated_at, jobs.c.progress)
        found: dict[str, JobStamp] = {}
        async with self._read() as conn:
            for chunk in _chunks(job_ids, _IDS_PER_QUERY):
                query = sa.select(*columns).where(jobs.c.id.in_(chunk))
                for r in (await conn.execute(query)).all():
                    updated_at = _utc(r.updated_at)
                    assert updated_at is not None  # NOT NULL
                    found[r.id] = JobStamp(
                        JobState(r.state), JobStatusCode(r.code), updated_at, r.progress
                    )
        return found

    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobRecord]:
        found: list[JobRecord] = []
        async with self._read() as conn:
            for chunk in _chunks(job_ids, _IDS_PER_QUERY):
                rows = (await conn.execute(jobs.select().where(jobs.c.id.in_(chunk)))).all()
                found.extend(_job_from_row(r) for r in rows)
        return found

    async def get_job(self, job_id: str, space_id: str | None = None) -> JobRecord | None:
        params = {"job_id": job_id, "space_id": space_id}
        if not self.is_sqlite:
            return await self._get_job_pg(params)
        query = _JOB_BY_ID if space_id is None else _JOB_BY_ID_IN_SPACE
        async with self._read() as conn:
            row = (await conn.execute(query, params)).first()
        return None if row is None else _job_from_row(row)

    async def _get_job_pg(self, params: dict[str, str | None]) -> JobRecord | None:
        """PostgreSQL: the lookup sent through psycopg itself, on a pooled
        connection in autocommit. SQLAlchemy's execution and result layers cost
        as much CPU as psycopg's whole round trip, on the API's most frequent
        request (``GET /job/{id}``, polled by clients). A psycopg error
        invalidates the connection, so that the pool never hands it out again."""
        query = _job_by_id_sql(in_space=params["space_id"] is not None)
        try:
            async with self._autocommit.connect() as conn:
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
        return None if row is None else _job_from_row(row)

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
        async with self._read() as conn:
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
        if self.is_sqlite:
            return sa.cast(sa.func.strftime("%s", column), sa.Integer) // 60
        return sa.cast(sa.func.floor(sa.extract("epoch", column) / 60), sa.BigInteger)

    def _seconds_between(
        self, start: sa.ColumnElement[Any], end: sa.ColumnElement[Any]
    ) -> sa.ColumnElement[Any]:
        if self.is_sqlite:
            return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0
        return sa.extract("epoch", end - start)

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
        values = _status_values(status, now)
        if output is not _UNSET:
            values["output"] = output
        if error is not None:
            values["error"] = error
        async with self._write() as conn:
            moved = await self._update_jobs(conn, query.values(**values), status, now)
            if moved:
                await self._notify_change(conn, status)
                await self._notify_jobs(conn, [job_id])
        return moved == 1

    async def _update_jobs(
        self, conn: AsyncConnection, update: sa.Update, status: Status, now: datetime
    ) -> int:
        """Run an UPDATE that moves jobs to ``status``; when that status is
        final, record the endings in the same transaction (webhook events,
        usage), so they exist if and only if the jobs ended. Rows moved."""
        if status.state not in FINAL_STATES:
            return int((await conn.execute(update)).rowcount)
        rows = (await conn.execute(update.returning(*_ENDED_COLUMNS))).all()
        if rows:
            await self._record_endings(conn, _ended(rows), now)
        return len(rows)

    @staticmethod
    async def _record_endings(
        conn: AsyncConnection, ended: Sequence[EndedJob], now: datetime
    ) -> int:
        """Webhook events and usage of jobs that just ended; the events queued."""
        queued = await enqueue_job_events(conn, ended, now)
        await add_usage(conn, ended, now)
        return queued

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
        if self.is_sqlite:
            return await self._request_cancel_in_transaction(parameters)
        try:
            async with self._autocommit.connect() as conn:
                row = (await conn.execute(_request_cancel_statement(), parameters)).first()
        except SQLAlchemyError as exc:
            raise _store_error(exc) from exc
        return None if row is None else _job_from_row(row)

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
        async with self._write() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else _job_from_row(row)

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
            .values(**_status_values(canceled, now))
        )
        async with self._write() as conn:
            if await has_subscribers(conn, filters, canceled.state):
                canceled_count = await self._update_jobs(conn, waiting, canceled, now)
            else:  # no webhook to tell: skip RETURNING up to 100,000 rows
                canceled_count = int((await conn.execute(waiting)).rowcount)
            running_count = 0
            if canceling is not None:
                running = await conn.execute(
                    jobs.update()
                    .where(*where, jobs.c.state == JobState.RUNNING.value)
                    .values(**_status_values(canceling, now))
                )
                running_count = running.rowcount
                if running_count:
                    await self._notify(conn, CANCEL_CHANNEL)
            if canceled_count or running_count:
                await self._notify_jobs(conn, None)
        return CancelCounts(canceled=canceled_count, canceling=running_count)

    # ---- notifications (PostgreSQL) ---------------------------------------------

    async def _notify_change(self, conn: AsyncConnection, status: Status) -> None:
        """Tell other processes what a state change means to them: a cancel to
        carry out, or a slot (or a job) that may now be claimed."""
        if status.state is JobState.CANCELING:
            await self._notify(conn, CANCEL_CHANNEL)
        elif status.state in (JobState.WAITING, *FINAL_STATES):
            await self._notify(conn, WAITING_CHANNEL)

    async def _notify(self, conn: AsyncConnection, channel: str, payload: str = "") -> None:
        # Sent at commit, only if the transaction commits; a lost notification
        # only delays a worker until its next poll.
        if not self.is_sqlite:
            await conn.execute(sa.select(sa.func.pg_notify(channel, payload)))

    async def _notify_jobs(self, conn: AsyncConnection, job_ids: Sequence[str] | None) -> None:
        """Tell waiting requests in other processes that these jobs changed
        (None: any of them may have)."""
        if self.is_sqlite:
            return
        if job_ids is None:
            await self._notify(conn, JOB_CHANNEL)
            return
        for chunk in _chunks(job_ids, _IDS_PER_NOTIFY):
            await self._notify(conn, JOB_CHANNEL, ",".join(chunk))

    async def listen(
        self,
        on_waiting: Callable[[], None],
        on_cancel: Callable[[list[str] | None], None],
        on_webhook: Callable[[], None] | None = None,
    ) -> None:
        """Call back on every start/slot, cancel and (when asked) webhook
        notification until cancelled, reconnecting after errors. Returns at
        once on SQLite, where there is nothing to listen to. ``on_cancel``
        gets the ids of the jobs to stop, or None for "any of them" (a
        cancelAll; also after each (re)connection, when some may have been
        missed)."""
        callbacks: dict[str, Callable[[str], None]] = {
            WAITING_CHANNEL: lambda _: on_waiting(),
            CANCEL_CHANNEL: lambda payload: on_cancel(payload.split(",") if payload else None),
        }
        if on_webhook is not None:
            callbacks[WEBHOOK_CHANNEL] = lambda _: on_webhook()

        def on_connected() -> None:  # what arrived while we were not listening
            on_waiting()
            on_cancel(None)
            if on_webhook is not None:
                on_webhook()

        await self._listen(callbacks, on_connected=on_connected)

    async def listen_job_changes(self, on_change: Callable[[str], None]) -> None:
        """Call back with the payload of every job-change notification (job
        ids, comma-separated, or "" for any) until cancelled; "" also after
        each (re)connection, since changes may have been missed meanwhile."""
        await self._listen({JOB_CHANNEL: on_change}, on_connected=lambda: on_change(""))

    async def _listen(
        self, callbacks: Mapping[str, Callable[[str], None]], on_connected: Callable[[], None]
    ) -> None:
        if self.is_sqlite:
            return
        url = sa.engine.make_url(self.url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        delay = 0.1
        while True:
            try:
                await self._listen_once(dsn, callbacks, on_connected)
                delay = 0.1
            except (psycopg.Error, OSError):
                log.warning("listen connection lost", extra={"action": "listen"})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    @staticmethod
    async def _listen_once(
        dsn: str, callbacks: Mapping[str, Callable[[str], None]], on_connected: Callable[[], None]
    ) -> None:
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            for channel in callbacks:
                await conn.execute(f"LISTEN {channel}")
            on_connected()  # jobs may have arrived while we were not listening
            async for notification in conn.notifies():
                callbacks[notification.channel](notification.payload)

    # ---- jobs: the worker side ------------------------------------------------

    async def claim(
        self,
        worker_id: str,
        limit: int,
        clock: Callable[[], datetime],
        lease_s: float,
        status: Status,
        *,
        durable: bool = True,
    ) -> list[ClaimedJob]:
        """Take up to ``limit`` waiting jobs, highest priority then oldest first,
        only from spaces under their parallel limit (``durable``: see
        :func:`claim_sql.claim_parameters`; SQLite ignores it).

        PostgreSQL: one statement in autocommit, one round trip; when another
        claim of a space committed under it, that space is claimed from again
        under its lock (store/claim.py says why this keeps the limits exact).
        SQLite: one ``BEGIN IMMEDIATE`` transaction, which serialises every
        claim, so the running counts it reads are exact."""
        if self.is_sqlite:
            return await self._claim_serialised(worker_id, limit, clock, lease_s, status)
        parameters = functools.partial(
            claim_sql.claim_parameters,
            worker_id,
            lease_s=lease_s,
            status=status,
            job_channel=JOB_CHANNEL,
            durable=durable,
        )
        try:
            async with self._claim_autocommit.connect() as conn:
                result = await conn.execute(claim_sql.CLAIM_STATEMENT, parameters(limit, clock()))
                claimed, stale = claim_sql.claimed_rows(result.all())
        except SQLAlchemyError as exc:
            raise _store_error(exc) from exc
        if stale and len(claimed) < limit:
            claimed += await self._claim_under_locks(stale, limit - len(claimed), clock, parameters)
        return [
            ClaimedJob(_job_from_row(r), r.document, running_in_space=r.running_in_space)
            for r in claimed
        ]

    async def _claim_under_locks(
        self,
        spaces: list[str],
        limit: int,
        clock: Callable[[], datetime],
        parameters: Callable[..., dict[str, Any]],
    ) -> list[Row[Any]]:
        """PostgreSQL: claim again from spaces a claim found stale, in a
        transaction that locks their rows first. The jobs already claimed are
        committed, so a failure here must not hide them: it takes nothing."""
        try:
            async with self._claim_engine.begin() as conn:
                await conn.execute(claim_sql.LOCK_SPACES, {"spaces": spaces})
                result = await conn.execute(
                    claim_sql.CLAIM_STATEMENT, parameters(limit, clock(), spaces=spaces)
                )
                return claim_sql.claimed_rows(result.all())[0]
        except SQLAlchemyError:
            log.warning("claim retry failed", extra={"action": "claim"}, exc_info=True)
            return []

    async def _claim_serialised(
        self,
        worker_id: str,
        limit: int,
        clock: Callable[[], datetime],
        lease_s: float,
        status: Status,
    ) -> list[ClaimedJob]:
        """SQLite: count, pick and take inside one ``BEGIN IMMEDIATE``
        transaction; no other claim can run until it commits, so the running
        counts it reads are exact. The clock is read once the lock is held:
        ``claimedAt`` is when the claim happened."""
        assert status.state not in FINAL_STATES  # a claim sets no ended_at
        async with self._write() as conn:
            load = {
                space: (int(running), int(space_limit))
                for space, space_limit, running in (await conn.execute(claim_sql.SPACE_LOAD))
                if space_limit > running
            }
            if not load:
                return []
            candidates = (
                await conn.execute(claim_sql.CANDIDATES, {"space_ids": list(load), "limit": limit})
            ).all()
            picked = _pick_within_limits(candidates, load)
            if not picked:
                return []
            instants = await _claim_instants(conn, clock(), picked, load)
            taken = await self._take(conn, instants, worker_id, lease_s, status)
            documents = {
                rule: (await conn.execute(claim_sql.DOCUMENT, params)).scalar_one()
                for rule, params in _rules_of(taken.values()).items()
            }
        return [
            ClaimedJob(
                taken[c.id],
                documents[(taken[c.id].base_id, taken[c.id].version)],
                running_in_space=running,
            )
            for c, running in picked
        ]

    @staticmethod
    async def _take(
        conn: AsyncConnection,
        picked: list[tuple[Any, datetime]],
        worker_id: str,
        lease_s: float,
        status: Status,
    ) -> dict[str, JobRecord]:
        """Take the picked jobs, each claimed at its instant: one UPDATE per
        distinct (execution limit, instant), usually one; the jobs by id."""
        groups: dict[tuple[float, datetime], list[str]] = {}
        for candidate, claimed in picked:
            groups.setdefault((candidate.execution_limit_s, claimed), []).append(candidate.id)
        taken: dict[str, JobRecord] = {}
        for (execution_limit_s, claimed), ids in groups.items():
            parameters = {
                "candidates": ids,
                "new_state": status.state.value,
                "new_code": status.code.value,
                "new_message": status.message,
                "claimed": claimed,
                "worker": worker_id,
                "lease_until": claimed + timedelta(seconds=lease_s),
                "deadline": claimed + timedelta(seconds=execution_limit_s),
            }
            for row in (await conn.execute(claim_sql.TAKE, parameters)).all():
                job = _job_from_row(row)
                taken[job.id] = job
        # the writer lock is held since the candidates were read: all still WAITING
        assert len(taken) == len(picked), "a picked job was not WAITING"
        return taken

    async def heartbeat(
        self, worker_id: str, job_ids: list[str], now: datetime, lease_s: float
    ) -> Heartbeat:
        """Renew the leases of a worker's jobs in one statement."""
        if not job_ids:
            return Heartbeat(canceling=[], lost=[])
        async with self._write() as conn:
            result = await conn.execute(
                jobs.update()
                .where(
                    jobs.c.id.in_(job_ids),
                    jobs.c.worker_id == worker_id,
                    jobs.c.state.in_(_ACTIVE),
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_s))
                .returning(jobs.c.id, jobs.c.state)
            )
            held = {r.id: r.state for r in result.all()}
        return Heartbeat(
            canceling=[i for i, s in held.items() if s == JobState.CANCELING.value],
            lost=[i for i in job_ids if i not in held],
        )

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
        insert = (
            sqlite_insert(job_details) if self.is_sqlite else postgresql_insert(job_details)
        ).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=[job_details.c.job_id],
            set_={k: insert.excluded[k] for k in ("trace", "logs", "updated_at")},
        )
        async with self._write() as conn:
            await conn.execute(upsert)
            if progress is not None:
                await conn.execute(
                    jobs.update().where(jobs.c.id == job_id).values(progress=progress)
                )
                await self._notify_jobs(conn, [job_id])

    async def end_jobs(
        self, endings: Sequence[JobEnding], now: datetime, canceled: Status
    ) -> EndingsWritten:
        """Write many jobs' endings in one transaction (store/endings.py): their
        final details, their moves (each job only if its worker still holds
        it, RUNNING, or CANCELING: then it ends ``canceled``), the webhook
        events and usage of the jobs that moved, one NOTIFY per channel."""
        if not self.is_sqlite:
            return await self._end_jobs_postgresql(endings, now, canceled)
        queued = 0
        async with self._write() as conn:
            moved = await ending_sql.write(conn, endings, now, canceled, sqlite=self.is_sqlite)
            if moved:
                queued = await self._record_endings(conn, _ended(moved), now)
                if not self.is_sqlite:
                    ids = [r.id for r in moved]
                    per = _IDS_PER_NOTIFY
                    await ending_sql.notify(conn, WAITING_CHANNEL, JOB_CHANNEL, ids, per)
        return EndingsWritten(ending_sql.outcomes(endings, moved, canceled), queued)

    async def _end_jobs_postgresql(
        self, endings: Sequence[JobEnding], now: datetime, canceled: Status
    ) -> EndingsWritten:
        """PostgreSQL: details, moves, usage, webhook outbox and NOTIFYs in one
        statement (store/endings_pg.py), one round trip."""
        channels = {"waiting": WAITING_CHANNEL, "changed": JOB_CHANNEL, "webhooks": WEBHOOK_CHANNEL}
        try:
            async with self._autocommit.connect() as conn:
                moved, queued = await ending_pg.write(conn, endings, now, canceled, **channels)
        except SQLAlchemyError as exc:
            raise _store_error(exc) from exc
        return EndingsWritten(ending_sql.outcomes(endings, moved, canceled), queued)

    async def get_details(self, job_id: str) -> JobDetails | None:
        query = sa.select(job_details.c.trace, job_details.c.logs).where(
            job_details.c.job_id == job_id
        )
        async with self._read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        logs = row.logs or {}
        return JobDetails(row.trace, logs.get("lines", []), logs.get("dropped", 0))

    async def canceling_jobs(self, worker_id: str) -> list[str]:
        query = sa.select(jobs.c.id).where(
            jobs.c.worker_id == worker_id, jobs.c.state == JobState.CANCELING.value
        )
        async with self._read() as conn:
            return list((await conn.execute(query)).scalars())

    async def expired_leases(self, now: datetime) -> list[ExpiredLease]:
        query = sa.select(jobs.c.id, jobs.c.state, jobs.c.attempts, jobs.c.retry_on_loss).where(
            jobs.c.state.in_(_ACTIVE), jobs.c.lease_expires_at < now
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [ExpiredLease(r.id, JobState(r.state), r.attempts, r.retry_on_loss) for r in rows]

    async def requeue(self, job_id: str, status: Status, now: datetime) -> bool:
        """Put a RUNNING job whose lease expired back in the queue."""
        query = (
            jobs.update()
            .where(
                jobs.c.id == job_id,
                jobs.c.state == JobState.RUNNING.value,
                jobs.c.lease_expires_at < now,
            )
            .values(
                **_status_values(status, now),
                worker_id=None,
                lease_expires_at=None,
                deadline_at=None,
            )
            .returning(*_ENDED_COLUMNS)
        )
        async with self._write() as conn:
            rows = (await conn.execute(query)).all()
            if rows:
                # The lost attempt ran until now: its seconds are used, as for
                # a job that ended; the next claim (or a cancel while it waits)
                # must not count them again, hence claimed_at is cleared.
                lost = [replace(job, ended_at=now) for job in _ended(rows)]
                await add_usage(conn, lost, now)
                await conn.execute(jobs.update().where(jobs.c.id == job_id).values(claimed_at=None))
                await self._notify(conn, WAITING_CHANNEL)
                await self._notify_jobs(conn, [job_id])
        return bool(rows)

    async def past_deadline(self, now: datetime) -> list[tuple[str, float]]:
        query = sa.select(jobs.c.id, jobs.c.execution_limit_s).where(
            jobs.c.state == JobState.RUNNING.value, jobs.c.deadline_at < now
        )
        async with self._read() as conn:
            return [(r.id, r.execution_limit_s) for r in (await conn.execute(query)).all()]

    async def reap(
        self,
        job_id: str,
        expect: JobState,
        status: Status,
        now: datetime,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """End a job whose lease expired, if it is still expired and in ``expect``."""
        query = (
            jobs.update()
            .where(
                jobs.c.id == job_id,
                jobs.c.state == expect.value,
                jobs.c.lease_expires_at < now,
            )
            .values(**_status_values(status, now), **({"error": error} if error else {}))
        )
        async with self._write() as conn:
            moved = await self._update_jobs(conn, query, status, now) == 1
            if moved:
                await self._notify_jobs(conn, [job_id])
        return moved

    # ---- worker registry ---------------------------------------------------------

    async def register_worker(
        self, worker_id: str, host: str, pid: int, concurrency: int, now: datetime
    ) -> None:
        """Insert this worker's row (or revive it, if it was pruned or marked stopped)."""
        values = {
            "id": worker_id,
            "host": host,
            "pid": pid,
            "concurrency": concurrency,
            "running": 0,
            "started_at": now,
            "last_heartbeat_at": now,
            "stopped_at": None,
        }
        insert = (sqlite_insert(workers) if self.is_sqlite else postgresql_insert(workers)).values(
            **values
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[workers.c.id],
            set_={k: insert.excluded[k] for k in _WORKER_REVIVE},
        )
        async with self._write() as conn:
            await conn.execute(upsert)

    async def worker_heartbeat(self, worker_id: str, running: int, now: datetime) -> bool:
        """Record that a live worker runs ``running`` jobs; False if its row is gone."""
        query = (
            workers.update()
            .where(workers.c.id == worker_id, workers.c.stopped_at.is_(None))
            .values(running=running, last_heartbeat_at=now)
        )
        async with self._write() as conn:
            return (await conn.execute(query)).rowcount == 1

    async def worker_stopped(self, worker_id: str, now: datetime) -> None:
        query = (
            workers.update()
            .where(workers.c.id == worker_id)
            .values(running=0, stopped_at=now, last_heartbeat_at=now)
        )
        async with self._write() as conn:
            await conn.execute(query)

    async def list_workers(self) -> list[WorkerInfo]:
        """Every registered worker, oldest first (``alive`` left for the manager)."""
        query = workers.select().order_by(workers.c.started_at, workers.c.id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [
            WorkerInfo(
                id=r.id,
                host=r.host,
                pid=r.pid,
                concurrency=r.concurrency,
                running=r.running,
                started_at=_utc(r.started_at),  # type: ignore[arg-type]
                last_heartbeat_at=_utc(r.last_heartbeat_at),  # type: ignore[arg-type]
                stopped_at=_utc(r.stopped_at),
            )
            for r in rows
        ]

    async def prune_workers(self, before: datetime) -> int:
        """Delete the rows of workers stopped, or silent, since before ``before``."""
        query = workers.delete().where(
            sa.or_(workers.c.stopped_at < before, workers.c.last_heartbeat_at < before)
        )
        async with self._write() as conn:
            return int((await conn.execute(query)).rowcount)

    # ---- health -----------------------------------------------------------------------

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database's file (None on PostgreSQL or in memory), for
        the readiness check: an open connection goes on reading a deleted file."""
        if not self.is_sqlite:
            return None
        database = sa.engine.make_url(self.url).database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).resolve()

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None: never migrated).
        Raises StoreError when the database does not answer."""
        async with self._read() as conn:
            if not await conn.run_sync(lambda c: sa.inspect(c).has_table("alembic_version")):
                return None
            query = sa.text("SELECT version_num FROM alembic_version")
            return (await conn.execute(query)).scalar_one_or_none()

    # ---- retention ------------------------------------------------------------------

    # ---- Solver API audits -----------------------------------------------------------

    async def insert_audit(self, audit: audit_sql.SolveAudit) -> None:
        async with self._write() as conn:
            await audit_sql.insert_audit(conn, audit)

    async def get_audit(
        self, audit_id: str, space_id: str, now: datetime
    ) -> audit_sql.SolveAudit | None:
        async with self._read() as conn:
            return await audit_sql.get_audit(conn, audit_id, space_id, now)

    async def prune_audits(self, now: datetime) -> int:
        async with self._write() as conn:
            return await audit_sql.prune_audits(conn, now)

    @staticmethod
    def prune_batch(before: datetime, batch_size: int) -> sa.Delete:
        """One batch of :meth:`prune_finished`: the oldest finished jobs that
        ended before ``before``, deleted by primary key. The ORDER BY makes
        PostgreSQL walk ix_jobs_ended and stop after ``batch_size`` rows; without
        it, it chose a sequential scan (docs/operations.md, query plans)."""
        pick = (
            sa.select(jobs.c.id)
            .where(jobs.c.state.in_(_FINAL), jobs.c.ended_at < before)
            .order_by(jobs.c.ended_at)
            .limit(batch_size)
        )
        return jobs.delete().where(jobs.c.id.in_(pick.scalar_subquery()))

    async def prune_finished(self, before: datetime, batch_size: int = 5000) -> int:
        """Delete finished jobs (COMPLETED, CANCELED, ERROR) that ended before
        ``before``, ``batch_size`` at a time, each batch its own short
        transaction. Their job_details rows go with them (ON DELETE CASCADE;
        SQLite enforces it because every connection sets ``foreign_keys=ON``).
        Solver audits past their time to live go first."""
        await self.prune_audits(datetime.now(UTC))
        deleted = 0
        while True:
            async with self._write() as conn:
                count = int((await conn.execute(self.prune_batch(before, batch_size))).rowcount)
            deleted += count
            if count < batch_size:
                return deleted
