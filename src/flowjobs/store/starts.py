"""Group commit of job starts.

Concurrent starts in one process are gathered by :class:`StartBatcher` and
written together: on PostgreSQL one autocommit statement for the whole batch
(:data:`PG_INSERT_BATCH`), on SQLite one ``BEGIN IMMEDIATE`` transaction with
one ``executemany``, run start to finish in one call on aiosqlite's thread
(:class:`SqliteWriter`). Nothing waits for a batch
to fill: the first start is written at once, and the starts that arrive while
a batch is being written form the next one. Every caller is answered only
once the batch holding its row has committed (never 2xx before durable).

Each row keeps the rule-version check of a single start: on PostgreSQL the
statement takes ``FOR KEY SHARE`` on every version the batch names (in key
order, the order a delete locks in, so the two cannot deadlock) and inserts
only the rows whose version it locked; on SQLite the writer lock serialises
the start against a delete. A start whose version is gone gets
:class:`RuleVersionNotFoundError` (404); the other rows of its batch go in.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import aiosqlite
import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from flowjobs.errors import AlreadyExistsError, FlowjobsError, RuleVersionNotFoundError, StoreError
from flowjobs.store.tables import jobs

log = logging.getLogger("flowjobs.store")

Row = Mapping[str, Any]
# Writes a batch; answers the ids of the rows that went in (a row is left
# out only when its rule version no longer exists).
WriteBatch = Callable[[Sequence[Row]], Awaitable[set[str]]]


class BatchRejected(Exception):
    """The database refused the whole batch for something one row may cause
    (a constraint, a value it cannot store): the rows are then written one
    at a time, so that only the caller whose row it is gets ``cause``."""

    def __init__(self, cause: FlowjobsError) -> None:
        super().__init__(cause.message)
        self.cause = cause


class PartlyWritten(Exception):
    """The first statements of a batch committed, then one failed: the rows
    of ``attempted`` are settled (in ``inserted``, or their version was
    gone); the others get ``cause``."""

    def __init__(self, attempted: set[str], inserted: set[str], cause: Exception) -> None:
        super().__init__(str(cause))
        self.attempted = attempted
        self.inserted = inserted
        self.cause = cause


def _one_for(exc: BaseException) -> BaseException:
    """A copy of ``exc`` for one caller: every waiting request raises its own
    exception object, so their tracebacks do not pile up on one instance."""
    try:
        clone = copy.copy(exc)
    except Exception:  # an exception type that cannot be copied
        return exc
    clone.__cause__ = exc.__cause__
    return clone


def _version_gone(row: Row) -> RuleVersionNotFoundError:
    return RuleVersionNotFoundError(f"Version {row['version']} of the rule no longer exists")


class StartBatcher:
    """Gathers concurrent inserts of new jobs into batches.

    ``max_rows`` bounds a batch; ``max_batches`` is how many batches may be
    in flight at once (one on SQLite, where there is one writer anyway)."""

    def __init__(self, write: WriteBatch, *, max_rows: int, max_batches: int) -> None:
        if max_rows < 1 or max_batches < 1:
            raise ValueError("max_rows and max_batches must be at least 1")
        self._write = write
        self.max_rows = max_rows
        self.max_batches = max_batches
        self._pending: list[tuple[Row, asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()

    async def insert(self, row: Row) -> None:
        """Insert one job row; returns once it is committed. Raises
        :class:`RuleVersionNotFoundError` if its version no longer exists,
        and what the database raised if its batch failed."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        # done(), not membership: a finished flusher leaves the set only in a
        # callback that runs later, and the row just queued must not wait on it
        if sum(not task.done() for task in self._flushers) < self.max_batches:
            task = asyncio.create_task(self._flush(), name="start-batch")
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        await future

    async def drain(self) -> None:
        """Wait for the batches in flight (at shutdown, before the pool closes)."""
        while self._flushers:
            await asyncio.gather(*self._flushers, return_exceptions=True)

    async def _flush(self) -> None:
        """Write what is pending, batch after batch, until nothing is left."""
        batch: list[tuple[Row, asyncio.Future[None]]] = []
        try:
            while self._pending:
                batch = self._pending[: self.max_rows]
                del self._pending[: self.max_rows]
                await self._write_batch(batch)
                batch = []
        except asyncio.CancelledError:  # the loop is shutting down
            for _, future in batch + self._pending:
                future.cancel()
            self._pending.clear()
            raise

    async def _write_batch(self, batch: list[tuple[Row, asyncio.Future[None]]]) -> None:
        try:
            inserted = await self._write([row for row, _ in batch])
        except PartlyWritten as partial:
            settled = [one for one in batch if one[0]["id"] in partial.attempted]
            self._answer_all(settled, partial.inserted)
            rest = [one for one in batch if one[0]["id"] not in partial.attempted]
            await self._fail(rest, partial.cause)
            return
        except Exception as exc:
            await self._fail(batch, exc)
            return
        self._answer_all(batch, inserted)

    @staticmethod
    def _answer_all(batch: list[tuple[Row, asyncio.Future[None]]], inserted: set[str]) -> None:
        for row, future in batch:
            _answer(future, None if row["id"] in inserted else _version_gone(row))

    async def _fail(self, batch: list[tuple[Row, asyncio.Future[None]]], exc: Exception) -> None:
        if isinstance(exc, BatchRejected):
            if len(batch) == 1:
                _answer(batch[0][1], exc.cause)
                return
            for one in batch:  # only the row at fault may fail
                await self._write_batch([one])
            return
        for _, future in batch:  # the database is down, a bug: every caller learns it
            _answer(future, _one_for(exc))


def _answer(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():  # the caller went away (its request was canceled)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


# ---- PostgreSQL ---------------------------------------------------------------

# The columns a start sets, with their types in the JSON of the batch. The
# other columns of ``jobs`` keep their defaults or are set in the statement.
_PG_COLUMNS = (
    ("id", "varchar"),
    ("space_id", "varchar"),
    ("base_id", "varchar"),
    ("version", "integer"),
    ("rule_type", "varchar"),
    ("correlation_id", "varchar"),
    ("input", "jsonb"),
    ("state", "varchar"),
    ("code", "varchar"),
    ("message", "text"),
    ("priority", "integer"),
    ("parallel_limit", "integer"),
    ("environment_group", "varchar"),
    ("api_key_id", "varchar"),
    ("api_key_name", "varchar"),
    ("execution_limit_s", "double precision"),
    ("retry_on_loss", "integer"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("rerun_of", "varchar"),
)
_PG_NAMES = ", ".join(name for name, _ in _PG_COLUMNS)
# jsonb_to_recordset reads a JSON null as SQL NULL; a single insert stores
# None in a JSON column as the JSON value null, so the batch does too.
_PG_VALUES = ", ".join(
    "COALESCE(b.input, 'null'::jsonb)" if name == "input" else f"b.{name}"
    for name, _ in _PG_COLUMNS
)

# One statement, one round trip, in autocommit. ``version`` locks the batch's
# rule versions FOR KEY SHARE, as a single start does (a delete that locked
# one first has committed by the time the lock is granted, and the row is
# then gone); only rows whose version is locked are inserted; one NOTIFY for
# the batch, and only if a row went in. Constant text: psycopg prepares it.
PG_INSERT_BATCH = f"""
WITH batch AS (
    SELECT * FROM jsonb_to_recordset(CAST(%(rows)s AS jsonb)) AS t(
        {", ".join(f"{name} {kind}" for name, kind in _PG_COLUMNS)}
    )
),
version AS (
    SELECT rv.base_id, rv.version FROM rule_versions AS rv
    WHERE (rv.base_id, rv.version) IN (SELECT base_id, version FROM batch)
    ORDER BY rv.base_id, rv.version
    FOR KEY SHARE OF rv
),
inserted AS (
    INSERT INTO jobs ({_PG_NAMES}, output, error, attempts)
    SELECT {_PG_VALUES}, 'null'::jsonb, 'null'::jsonb, 0
    FROM batch AS b
    JOIN version AS v ON v.base_id = b.base_id AND v.version = b.version
    RETURNING id
)
SELECT array_agg(id) AS ids, pg_notify(%(channel)s, '') FROM inserted HAVING count(*) > 0
"""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# JSON text of rows in one statement: far below the largest JSONB value
# (256 MiB), so a flood of large inputs splits into several statements.
PG_BATCH_BYTES = 16 * 1024 * 1024


def pg_batch_chunks(rows: Sequence[Row], max_bytes: int | None = None) -> list[list[str]]:
    """The batch's rows as JSON objects, grouped into the JSON arrays of
    :data:`PG_INSERT_BATCH` of at most ``max_bytes`` each (a single larger
    row goes alone); each array as its rows' texts (pure)."""
    limit = PG_BATCH_BYTES if max_bytes is None else max_bytes
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for row in rows:
        text = json.dumps(
            {name: row[name] for name, _ in _PG_COLUMNS},
            default=_json_default,
            separators=(",", ":"),
        )
        if current and size + len(text) > limit:
            chunks.append(current)
            current, size = [], 0
        current.append(text)
        size += len(text) + 1
    if current:
        chunks.append(current)
    return chunks


async def insert_batch_pg(conn: AsyncConnection, rows: Sequence[Row], channel: str) -> set[str]:
    """PostgreSQL: the batch's statement (one per :data:`PG_BATCH_BYTES` of
    rows) on an autocommit connection; the ids inserted. If a statement
    fails after others committed, :class:`PartlyWritten` says which rows
    are settled."""
    inserted: set[str] = set()
    attempted: set[str] = set()
    start = 0
    for chunk in pg_batch_chunks(rows):
        ids = {row["id"] for row in rows[start : start + len(chunk)]}
        start += len(chunk)
        try:
            found = (
                await conn.exec_driver_sql(
                    PG_INSERT_BATCH, {"rows": "[" + ",".join(chunk) + "]", "channel": channel}
                )
            ).first()
        except Exception as exc:
            if attempted:
                raise PartlyWritten(attempted, inserted, exc) from exc
            raise
        attempted |= ids
        inserted |= set() if found is None else set(found.ids)
    return inserted


# ---- SQLite -------------------------------------------------------------------


class SqliteBinder:
    """Binds the values of ``jobs`` rows for the driver as SQLAlchemy binds
    them on this dialect: each column's own bind processor (the text format
    of timestamps the other statements write and compare, JSON as text
    through the engine's serializer), so that a batched row is stored as a
    single insert stores it. Two shortcuts, each giving what the processor
    gives: a ``None`` takes the processor's answer for ``None``, computed
    once; a value object a row holds in two columns of the same type (a
    start's ``created_at`` is its ``updated_at``) is bound once."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self._bind: dict[str, Callable[[Any], Any] | None] = {}
        self._null: dict[str, Any] = {}
        self._type: dict[str, int] = {}
        for column in jobs.c:
            bind = column.type.dialect_impl(dialect).bind_processor(dialect)
            self._bind[column.name] = bind
            self._null[column.name] = None if bind is None else bind(None)
            self._type[column.name] = id(column.type)

    def params(self, row: Row, names: tuple[str, ...]) -> tuple[Any, ...]:
        """The row's values in the order of ``names``."""
        values = []
        done: dict[tuple[int, int], Any] = {}
        for name in names:
            value = row[name]
            bind = self._bind[name]
            if value is None:
                values.append(self._null[name])
            elif bind is None:
                values.append(value)
            else:
                key = (self._type[name], id(value))
                if key not in done:
                    done[key] = bind(value)
                values.append(done[key])
        return tuple(values)


@functools.lru_cache(maxsize=8)
def _sqlite_insert_sql(names: tuple[str, ...]) -> str:
    return f"INSERT INTO jobs ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


_SQLITE_VERSION_EXISTS = "SELECT 1 FROM rule_versions WHERE base_id = ? AND version = ?"


class SqliteBatch:
    """One batch prepared for :func:`write_sqlite_batch`: the statement and
    every row's parameters, bound on the event loop's side, so that the
    database thread only runs SQLite."""

    def __init__(self, rows: Sequence[Row], binder: SqliteBinder):
        names = tuple(rows[0])  # every row of a batch has the keys insert_job gives
        self.sql = _sqlite_insert_sql(names)
        self.ids = [row["id"] for row in rows]
        self.versions = [(row["base_id"], row["version"]) for row in rows]
        try:
            self.params = [binder.params(row, names) for row in rows]
        except (TypeError, ValueError) as exc:  # a value SQLAlchemy could not bind either
            raise BatchRejected(_store_error(exc)) from exc


def write_sqlite_batch(db: sqlite3.Connection, batch: SqliteBatch) -> set[str]:
    """SQLite, run on the connection's own thread (aiosqlite's), start to
    finish in one call: ``BEGIN IMMEDIATE`` (the writer lock, which also
    serialises the batch against a rule-version delete), which versions are
    still there, one ``executemany`` of the rows whose version is, ``COMMIT``.
    Anything that fails rolls the transaction back and propagates. The ids
    inserted."""
    db.execute("BEGIN IMMEDIATE")
    try:
        existing = {
            version
            for version in set(batch.versions)
            if db.execute(_SQLITE_VERSION_EXISTS, version).fetchone() is not None
        }
        keep = [i for i, version in enumerate(batch.versions) if version in existing]
        if keep:
            db.executemany(batch.sql, [batch.params[i] for i in keep])
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return {batch.ids[i] for i in keep}


class SqliteWriter:
    """Writes SQLite batches on one connection of the write engine, checked
    out at the first batch and kept (a checkout and its return cost about as
    much of the event loop's time as the hop itself): each batch is one call
    on that connection's aiosqlite thread (:func:`write_sqlite_batch`)
    instead of a hop per driver call (cursor, execute, fetch, close, for
    BEGIN, the version check, the insert and COMMIT: about a dozen). Calls
    on one aiosqlite connection run one after the other on its thread, and
    each is a whole transaction, so two batches can never interleave. After
    an error that is not about a row the connection is dropped (invalidated)
    and the next batch checks out another."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._binder = SqliteBinder(engine.dialect)
        self._conn: AsyncConnection | None = None
        self._driver: aiosqlite.Connection | None = None

    async def write(self, rows: Sequence[Row]) -> set[str]:
        batch = SqliteBatch(rows, self._binder)
        driver = await self._checked_out()
        # aiosqlite's queue to its thread (the one thread its sqlite3
        # connection may be used on); _execute is how its own methods use it
        run_on_thread = cast(Callable[..., Awaitable[set[str]]], driver._execute)
        try:
            return await run_on_thread(_on_thread, driver, batch)
        except (sqlite3.IntegrityError, sqlite3.DataError):
            raise  # a row's fault: the connection is fine
        except BaseException:
            await self._drop(invalidate=True)
            raise

    async def close(self) -> None:
        """Give the connection back (at shutdown, after the last batch)."""
        await self._drop(invalidate=False)

    async def _checked_out(self) -> aiosqlite.Connection:
        if self._driver is None:
            conn = await self._engine.connect()
            try:
                raw = await conn.get_raw_connection()
            except BaseException:
                await conn.close()
                raise
            self._conn, self._driver = conn, cast(aiosqlite.Connection, raw.driver_connection)
        return self._driver

    async def _drop(self, *, invalidate: bool) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is None:
            return
        if invalidate:
            await conn.invalidate()
        await conn.close()


def _on_thread(driver: aiosqlite.Connection, batch: SqliteBatch) -> set[str]:
    return write_sqlite_batch(driver._conn, batch)


# ---- the writer ---------------------------------------------------------------


def _store_error(exc: BaseException) -> StoreError:
    """The error a failed write answers (503), worded as a single start's."""
    cause = getattr(exc, "orig", None) or exc
    return StoreError(f"database error: {type(cause).__name__}")


class BatchWriter:
    """Writes one batch (called with its rows): on PostgreSQL ``engine`` must
    be in autocommit (the statement is its own transaction); on SQLite it is
    the write engine (:class:`SqliteWriter`, whose batches begin their own
    transactions). :meth:`close` once the last batch is written."""

    def __init__(self, engine: AsyncEngine, *, is_sqlite: bool, channel: str) -> None:
        self._engine = engine
        self._channel = channel
        self._sqlite = SqliteWriter(engine) if is_sqlite else None

    async def __call__(self, rows: Sequence[Row]) -> set[str]:
        try:
            if self._sqlite is not None:
                return await self._sqlite.write(rows)
            async with self._engine.connect() as conn:
                return await insert_batch_pg(conn, rows, self._channel)
        except PartlyWritten as partial:
            raise PartlyWritten(
                partial.attempted, partial.inserted, _mapped(partial.cause)
            ) from partial.cause
        except (SQLAlchemyError, sqlite3.Error) as exc:
            raise _mapped(exc) from exc

    async def close(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.close()


def _mapped(exc: Exception) -> Exception:
    """What a failed write raises: :class:`BatchRejected` for what one row
    may cause (then written row by row), else the 503 ``StoreError``. The
    SQLite batch raises the driver's own errors (it bypasses SQLAlchemy):
    they are mapped as SQLAlchemy's wrappers of them are."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(exc, IntegrityError) or isinstance(cause, sqlite3.IntegrityError):
        return BatchRejected(AlreadyExistsError(str(cause).splitlines()[0]))
    # e.g. a string PostgreSQL cannot store in JSONB
    if isinstance(exc, DataError) or isinstance(cause, sqlite3.DataError):
        return BatchRejected(_store_error(exc))
    if isinstance(exc, SQLAlchemyError | sqlite3.Error):
        return _store_error(exc)
    return exc
