"""The private aiosqlite API that the SQLite group commit of starts relies on
(store/starts.py, ``SqliteWriter``): a batch is one call on the connection's
own thread through ``aiosqlite.Connection._execute``, on the
``sqlite3.Connection`` that ``aiosqlite.Connection._conn`` names. Neither is
public, so an aiosqlite upgrade may change them: these tests fail loudly
then (pyproject.toml pins the versions they passed with)."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiosqlite
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from flowjobs.store.starts import SqliteWriter


@pytest.fixture
async def driver(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    async with aiosqlite.connect(tmp_path / "pin.db") as connection:
        yield connection


def _thread_and_connection(db: sqlite3.Connection, tag: str) -> tuple[int, sqlite3.Connection, str]:
    return threading.get_ident(), db, tag


async def test_execute_runs_a_function_on_the_connections_thread(
    driver: aiosqlite.Connection,
) -> None:
    assert inspect.iscoroutinefunction(driver._execute)

    thread, db, tag = await driver._execute(_thread_and_connection, driver._conn, "given")

    assert thread != threading.get_ident()  # not the event loop's thread
    assert isinstance(db, sqlite3.Connection)
    assert tag == "given"  # positional arguments are passed on


async def test_conn_is_the_connection_the_public_methods_use(
    driver: aiosqlite.Connection,
) -> None:
    def create_and_fill(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE pinned (n INTEGER)")
        db.executemany("INSERT INTO pinned VALUES (?)", [(1,), (2,)])
        db.commit()

    await driver._execute(create_and_fill, driver._conn)

    async with driver.execute("SELECT sum(n) FROM pinned") as cursor:
        assert await cursor.fetchone() == (3,)


async def test_an_error_on_the_thread_reaches_the_caller(driver: aiosqlite.Connection) -> None:
    def fail(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO missing VALUES (1)")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        await driver._execute(fail, driver._conn)

    async with driver.execute("SELECT 1") as cursor:  # the connection still works
        assert await cursor.fetchone() == (1,)


async def test_calls_run_one_after_the_other_in_the_order_queued(
    driver: aiosqlite.Connection,
) -> None:
    seen: list[str] = []

    def note(db: sqlite3.Connection, tag: str) -> None:
        seen.append(tag)

    await asyncio.gather(*(driver._execute(note, driver._conn, str(i)) for i in range(20)))

    assert seen == [str(i) for i in range(20)]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/writer.db")
    yield engine
    await engine.dispose()


async def test_the_writers_driver_connection_is_an_aiosqlite_connection(
    engine: AsyncEngine,
) -> None:
    writer = SqliteWriter(engine)
    try:
        driver = await writer._checked_out()  # what SQLAlchemy's aiosqlite dialect hands out

        assert isinstance(driver, aiosqlite.Connection)
        assert isinstance(driver._conn, sqlite3.Connection)
    finally:
        await writer.close()
