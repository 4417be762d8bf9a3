"""Named SQL connections for the ``sql`` node, and running one statement.

The worker builds a :class:`SqlConnections` from its configuration and hands
it to the engine through ``EngineServices.sql``; the engine never reads
configuration itself.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import decimal
import json
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import TextClause
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from flowjobs.errors import FlowExecutionError

T = TypeVar("T")

# Bare dialect names -> the async driver the engine uses with them.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
}


def async_url(url: str) -> str:
    """``url`` with its bare dialect mapped to an async driver: ``sqlite://`` ->
    ``sqlite+aiosqlite://``, ``postgresql://`` -> ``postgresql+psycopg://``;
    anything else (an explicit driver, mysql, mariadb) is left as given."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        return url
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


class SqlConnections:
    """One lazily created SQLAlchemy :class:`AsyncEngine` per connection name.

    Pools are bounded: ``pool_size`` connections and no overflow (SQLite keeps
    SQLAlchemy's default pool). Call :meth:`close` when done.
    """

    def __init__(self, urls: Mapping[str, str], *, pool_size: int = 5) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._urls = {name: async_url(url) for name, url in urls.items()}
        self._pool_size = pool_size
        self._engines: dict[str, AsyncEngine] = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The configured connection names, sorted."""
        return tuple(sorted(self._urls))

    def __contains__(self, name: object) -> bool:
        return name in self._urls

    def engine(self, name: str) -> AsyncEngine:
        """The engine of connection ``name``; FlowExecutionError if it is unknown."""
        engine = self._engines.get(name)
        if engine is not None:
            return engine
        url = self._urls.get(name)
        if url is None:
            configured = ", ".join(self.names) or "none"
            raise FlowExecutionError(
                f'unknown SQL connection "{name}" (configured: {configured})',
                error_type="UnknownConnection",
            )
        engine = self._create(url)
        self._engines[name] = engine
        return engine

    def _create(self, url: str) -> AsyncEngine:
        if make_url(url).get_backend_name() == "sqlite":
            return create_async_engine(url)
        return create_async_engine(
            url, pool_size=self._pool_size, max_overflow=0, pool_pre_ping=True
        )

    async def close(self) -> None:
        """Dispose of every engine created so far."""
        engines, self._engines = list(self._engines.values()), {}
        for engine in engines:
            await engine.dispose()


async def run_statement(
    engine: AsyncEngine,
    statement: TextClause,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    mode: str,
) -> Any:
    """Run ``statement`` in one transaction and shape the result for ``mode``
    (``rows``, ``one`` or ``execute``); a list of parameter sets runs it once
    per set (executemany) and gives ``{rowCount}``.

    Runs in a child task so that a cancellation can first interrupt a running
    SQLite statement (a cancelled await alone would leave it running in the
    driver's thread); PostgreSQL (psycopg) cancels the query on the server.
    """
    holder: dict[str, Any] = {}

    async def work() -> Any:
        async with engine.begin() as conn:
            raw = await conn.get_raw_connection()
            holder["driver"] = raw.driver_connection
            return await _execute(conn, statement, params, mode)

    return await _interruptible(work(), lambda: _interrupt(holder.get("driver")))


async def _interrupt(driver: Any) -> None:
    interrupt = getattr(driver, "interrupt", None)  # aiosqlite.Connection
    if interrupt is not None:
        await interrupt()


async def _interruptible(work: Awaitable[T], on_cancel: Callable[[], Awaitable[None]]) -> T:
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await on_cancel()
        task.cancel()
        while not task.done():  # wait for the connection to be given back
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved, so that asyncio does not warn
        raise


async def _execute(
    conn: AsyncConnection,
    statement: TextClause,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    mode: str,
) -> Any:
    if not isinstance(params, Mapping):
        if not params:
            return {"rowCount": 0}
        result = await conn.execute(statement, [dict(item) for item in params])
        return {"rowCount": _row_count(result.rowcount)}
    result = await conn.execute(statement, dict(params))
    if mode == "execute":
        return {"rowCount": _row_count(result.rowcount)}
    if not result.returns_rows:
        return None if mode == "one" else {"rows": [], "rowCount": 0}
    if mode == "one":
        row = result.mappings().first()
        return None if row is None else _row(row)
    rows = [_row(row) for row in result.mappings().all()]
    return {"rows": rows, "rowCount": len(rows)}


def _row_count(count: int) -> int | None:
    return count if count >= 0 else None


def _row(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {str(key): json_safe(value) for key, value in row.items()}


def json_safe(value: Any) -> Any:
    """A database value as JSON: Decimal -> int or float (str if not finite),
    date/time -> ISO 8601 text, bytes -> base64, UUID -> text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return _decimal(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    return str(value)


def _decimal(value: decimal.Decimal) -> Any:
    if not value.is_finite():
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def bind_value(value: Any) -> Any:
    """A JSON value as a bound parameter: objects and arrays are sent as JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value
