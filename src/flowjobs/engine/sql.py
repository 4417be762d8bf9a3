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
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import TextClause
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from flowjobs.engine.pg_guard import JobStoreRoles, discard_on_return, probe, refusals
from flowjobs.engine.sqlite_guard import (
    NOT_ALLOWED,
    SqliteTarget,
    guarded_connector,
    protected_files,
    refusal,
)
from flowjobs.errors import ConfigurationError, FlowExecutionError

T = TypeVar("T")

ALL_SPACES = "*"  # in a connection's spaces: every space
_NO_PREPARE = {"postgresql+psycopg": {"prepare_threshold": None}}

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


@dataclass(frozen=True)
class NamedConnection:
    """A connection's URL and the ids of the spaces whose flows may use it
    (``"*"``: every space; none by default)."""

    url: str
    spaces: frozenset[str] = frozenset()

    def open_to(self, space_id: str) -> bool:
        return ALL_SPACES in self.spaces or space_id in self.spaces


class SqlConnections:
    """One lazily created SQLAlchemy :class:`AsyncEngine` per connection name.

    SQLite: a fresh guarded connection per statement (engine/sqlite_guard.py),
    never on the job store's files (``store_files``). PostgreSQL: a bounded
    pool (``pool_size``, no overflow) whose connections are reset with
    ``DISCARD ALL`` when given back, used only once its role passed
    :func:`~flowjobs.engine.pg_guard.refusals` (at :meth:`check`, or before
    its first statement). Other databases: a new connection per statement.
    A flow sees only the connections open to its space (:meth:`for_space`).
    Call :meth:`close` when done.
    """

    def __init__(
        self,
        connections: Mapping[str, NamedConnection | str],
        *,
        pool_size: int = 5,
        store_files: Collection[Path] = (),
    ) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        self._connections = {
            name: NamedConnection(c) if isinstance(c, str) else c for name, c in connections.items()
        }
        self._urls = {name: async_url(c.url) for name, c in self._connections.items()}
        self._sqlite = {
            name: _sqlite_target(name, url)
            for name, url in self._urls.items()
            if make_url(url).get_backend_name() == "sqlite"
        }
        self._protected = protected_files(store_files)
        self._pool_size = pool_size
        self._engines: dict[str, AsyncEngine] = {}
        self._store: JobStoreRoles | None = None
        self._vetted: set[str] = set()  # PostgreSQL connections whose role passed
        self._vetting = asyncio.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        """The configured connection names, sorted."""
        return tuple(sorted(self._urls))

    def __contains__(self, name: object) -> bool:
        return name in self._urls

    def for_space(self, space_id: str) -> SpaceConnections:
        """The connections that flows of ``space_id`` may use."""
        return SpaceConnections(
            self, frozenset(n for n, c in self._connections.items() if c.open_to(space_id))
        )

    async def engine(self, name: str) -> AsyncEngine:
        """The engine of connection ``name``, checked; FlowExecutionError if
        it is unknown, or refused (``SqlNotAllowed``)."""
        if name not in self._urls:
            raise unknown_connection(name, self.names)
        engine = self._engine(name)
        if name in self._vetted or not _is_postgres(engine):
            return engine
        async with self._vetting:
            if name not in self._vetted:
                await self._vet(name, engine)
        return engine

    def _engine(self, name: str) -> AsyncEngine:
        engine = self._engines.get(name)
        if engine is None:
            engine = self._engines[name] = self._create(name)
        return engine

    def _create(self, name: str) -> AsyncEngine:
        url = self._urls[name]
        target = self._sqlite.get(name)
        if target is not None:
            return create_async_engine(
                "sqlite+aiosqlite://",
                async_creator=guarded_connector(target, self._protected),
                poolclass=NullPool,
            )
        if make_url(url).get_backend_name() != "postgresql":
            return create_async_engine(url, poolclass=NullPool)  # no state to carry over
        engine = create_async_engine(
            url,
            pool_size=self._pool_size,
            max_overflow=0,
            pool_pre_ping=True,
            pool_reset_on_return=None,
            # no server-side prepared statements: DISCARD ALL drops them
            # behind the driver's back
            connect_args=_NO_PREPARE.get(make_url(url).drivername, {}),
        )
        discard_on_return(engine)
        return engine

    async def _vet(self, name: str, engine: AsyncEngine) -> None:
        try:
            identity = await probe(engine)
        except SQLAlchemyError as exc:
            raise FlowExecutionError(
                f'SQL connection "{name}" cannot be checked: {_first_line(exc)}',
                error_type="SqlError",
            ) from exc
        reasons = refusals(identity, self._store)
        if reasons:
            raise FlowExecutionError(refused(name, identity.user, reasons), error_type=NOT_ALLOWED)
        self._vetted.add(name)

    async def check(self, store: JobStoreRoles | None) -> list[str]:
        """Check every connection at start-up. ``store``: the job store's
        server and the roles with rights on its tables (None: not PostgreSQL).
        Raises ConfigurationError (one line) for a SQLite connection on the
        job store's files or a PostgreSQL role that is refused; returns
        warnings for connections that are open to no space or cannot be
        reached now (those are checked before their first statement)."""
        self._store = store
        warnings = [
            f'SQL connection "{name}" is open to no space (list space ids in its "spaces")'
            for name, c in sorted(self._connections.items())
            if not c.spaces
        ]
        problems: list[str] = []
        for name in self.names:
            try:
                self._check_file(name)
                await self.engine(name)
            except FlowExecutionError as exc:
                if exc.error_type == NOT_ALLOWED:
                    problems.append(exc.message)
                else:
                    warnings.append(exc.message + "; checked again before its first statement")
        if problems:
            raise ConfigurationError("; ".join(problems))
        return warnings

    def _check_file(self, name: str) -> None:
        target = self._sqlite.get(name)
        if target is None:
            return
        try:
            target.check_not(self._protected)
        except FlowExecutionError as exc:
            raise FlowExecutionError(
                f'SQL connection "{name}": {exc.message}', error_type=NOT_ALLOWED
            ) from exc

    async def close(self) -> None:
        """Dispose of every engine created so far."""
        engines, self._engines = list(self._engines.values()), {}
        self._vetted.clear()
        for engine in engines:
            await engine.dispose()


class SpaceConnections:
    """The named connections open to one space; the others do not exist for
    its flows (the same error as an unknown name, so none is revealed)."""

    def __init__(self, connections: SqlConnections, names: frozenset[str]) -> None:
        self._connections = connections
        self._names = names

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._names))

    def __contains__(self, name: object) -> bool:
        return name in self._names

    async def engine(self, name: str) -> AsyncEngine:
        if name not in self._names:
            raise unknown_connection(name, self.names)
        return await self._connections.engine(name)


def unknown_connection(name: str, configured: Sequence[str]) -> FlowExecutionError:
    return FlowExecutionError(
        f'unknown SQL connection "{name}" (configured: {", ".join(configured) or "none"})',
        error_type="UnknownConnection",
    )


def refused(name: str, user: str, reasons: Sequence[str]) -> str:
    return (
        f'SQL connection "{name}" refused: its role "{user}" {", ".join(reasons)}; '
        "give it a role with only the rights its flows need (docs/security.md)"
    )


def _sqlite_target(name: str, url: str) -> SqliteTarget:
    try:
        return SqliteTarget.from_url(url)
    except ValueError as exc:
        raise ConfigurationError(f'SQL connection "{name}": {exc}') from exc


def _is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0][:300] if message else type(exc).__name__


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
        try:
            async with engine.begin() as conn:
                raw = await conn.get_raw_connection()
                holder["driver"] = raw.driver_connection
                return await _execute(conn, statement, params, mode)
        except DBAPIError as exc:
            reason = refusal(holder.get("driver"))  # the SQLite guard said no
            if reason is None:
                raise
            raise FlowExecutionError(reason, error_type=NOT_ALLOWED) from exc

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
