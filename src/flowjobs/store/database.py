"""The store's connection to its database: engines, transactions, driver-error
wrapping, and PostgreSQL's LISTEN/NOTIFY. Every per-concern part of the store
(store/catalog.py, store/jobs.py, ...) runs its statements through one
:class:`Database`.

SQLite: every write transaction starts with ``BEGIN IMMEDIATE``, which takes
the database's single writer lock up front. Claims are therefore serialised
across every process that opens the file, which is what keeps a space's
``parallelLimit`` exact. Reads use a second engine in autocommit mode (each
read is one statement, so one implicit snapshot), so that they never wait for
a writer (WAL mode).

PostgreSQL: reads and one-statement writes run in autocommit (under READ
COMMITTED each statement takes its own snapshot anyway); claims have a pool of
their own, planned as store/claim.py says.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import psycopg
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import FINAL_STATES, JobState, Status
from flowjobs.errors import AlreadyExistsError, StoreError
from flowjobs.store import claim as claim_sql
from flowjobs.store.engines import SESSION_OPTIONS, async_url, make_engine
from flowjobs.store.outbox import WEBHOOK_CHANNEL
from flowjobs.store.rows import chunks

WAITING_CHANNEL = "flowjobs_waiting"  # a job was queued or a slot was freed
CANCEL_CHANNEL = "flowjobs_cancel"  # a running job was asked to cancel
# A job's state or progress changed. Payload: job ids, comma-separated; empty
# when many jobs changed at once (cancelAll), meaning "any watched job".
JOB_CHANNEL = "flowjobs_job"
IDS_PER_NOTIFY = claim_sql.IDS_PER_NOTIFY
log = logging.getLogger("flowjobs.store")


def store_error(exc: SQLAlchemyError) -> StoreError:
    """The driver's error as a StoreError naming its class (never its text,
    which may hold values)."""
    cause = getattr(exc, "orig", None) or exc
    return StoreError(f"database error: {type(cause).__name__}")


class Database:
    """One database's engines; one instance per process."""

    def __init__(self, url: str, *, pool_size: int = 5, max_overflow: int = 5) -> None:
        self.url = async_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.engine = make_engine(
            self.url,
            begin="IMMEDIATE" if self.is_sqlite else None,
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        # One-statement writes: atomic on their own, so no BEGIN/COMMIT round trips.
        self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_engine = (
            make_engine(self.url, begin=None, pool_size=pool_size)
            if self.is_sqlite
            else self.engine
        )
        # PostgreSQL: the claims' own pool (a worker claims one batch at a
        # time; +1 for the retry under locks), its sessions planned as
        # claim_sql.SESSION_OPTIONS says. A pool opens no connection until
        # used, so processes that never claim pay nothing for it.
        self.claim_engine = (
            self.engine
            if self.is_sqlite
            else make_engine(
                self.url,
                begin=None,
                pool_size=1,
                max_overflow=1,
                options=f"{SESSION_OPTIONS} {claim_sql.SESSION_OPTIONS}",
            )
        )
        self._claim_autocommit = self.claim_engine.execution_options(isolation_level="AUTOCOMMIT")

    async def close(self) -> None:
        await self.engine.dispose()
        if self.claim_engine is not self.engine:
            await self.claim_engine.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()

    # ---- transactions ---------------------------------------------------------

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``); a unique or
        foreign key violation raises AlreadyExistsError, any other driver
        error StoreError."""
        try:
            async with self.engine.begin() as conn:
                yield conn
        except IntegrityError as exc:
            raise AlreadyExistsError(str(exc.orig).splitlines()[0]) from exc
        except SQLAlchemyError as exc:
            raise store_error(exc) from exc

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads. PostgreSQL reads run in autocommit: under
        READ COMMITTED each statement takes its own snapshot whether in a
        transaction or not, so a read transaction only added a BEGIN and a
        ROLLBACK round trip to each read."""
        engine = self._read_engine if self.is_sqlite else self.autocommit_engine
        try:
            async with engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"database error: {type(exc).__name__}") from exc

    @asynccontextmanager
    async def one_statement(self, *, claim: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection in autocommit for a statement that is atomic on its
        own (``claim``: from the claims' pool); driver errors raise StoreError."""
        engine = self._claim_autocommit if claim else self.autocommit_engine
        try:
            async with engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise store_error(exc) from exc

    # ---- notifications (PostgreSQL) ---------------------------------------------

    async def notify(self, conn: AsyncConnection, channel: str, payload: str = "") -> None:
        # Sent at commit, only if the transaction commits; a lost notification
        # only delays a worker until its next poll.
        if not self.is_sqlite:
            await conn.execute(sa.select(sa.func.pg_notify(channel, payload)))

    async def notify_change(self, conn: AsyncConnection, status: Status) -> None:
        """Tell other processes what a state change means to them: a cancel to
        carry out, or a slot (or a job) that may now be claimed."""
        if status.state is JobState.CANCELING:
            await self.notify(conn, CANCEL_CHANNEL)
        elif status.state in (JobState.WAITING, *FINAL_STATES):
            await self.notify(conn, WAITING_CHANNEL)

    async def notify_jobs(self, conn: AsyncConnection, job_ids: Sequence[str] | None) -> None:
        """Tell waiting requests in other processes that these jobs changed
        (None: any of them may have)."""
        if self.is_sqlite:
            return
        if job_ids is None:
            await self.notify(conn, JOB_CHANNEL)
            return
        for chunk in chunks(job_ids, IDS_PER_NOTIFY):
            await self.notify(conn, JOB_CHANNEL, ",".join(chunk))

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

    # ---- health -----------------------------------------------------------------

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
        async with self.read() as conn:
            if not await conn.run_sync(lambda c: sa.inspect(c).has_table("alembic_version")):
                return None
            query = sa.text("SELECT version_num FROM alembic_version")
            return (await conn.execute(query)).scalar_one_or_none()
