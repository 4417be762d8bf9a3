"""Database URLs and the SQLAlchemy engines of the store, for SQLite and
PostgreSQL: the pragmas every SQLite connection sets, the write engine's
``BEGIN IMMEDIATE``, and the PostgreSQL pool's check of a dead connection."""

from __future__ import annotations

import select
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Every PostgreSQL session of the store: no JIT. Its threshold is a plan
# cost, which set-based statements over many rows pass (a bulk cancel, a
# batch of ends), and compiling their plan takes longer than running it.
SESSION_OPTIONS = "-c jit=off"


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


def _with_given_options(url: str, options: str) -> str:
    """``options`` after any the database URL gives (``?options=...``), which
    connect_args would otherwise replace."""
    given = make_url(url).query.get("options")
    if isinstance(given, tuple):
        given = " ".join(given)
    return f"{given} {options}" if given else options


def make_engine(
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
