"""What a ``sql`` node may do on a SQLite named connection.

A flow's query is free SQL text, so the statement itself is the attacker's.
SQLite lets one connection open other files (``ATTACH``, ``VACUUM INTO``),
load code (``load_extension``) and change how it works (``PRAGMA``); a
pooled connection would carry such changes to the next job of any space.
Each named connection is therefore opened here, for one statement only:

- by a ``file:`` URI with an explicit ``mode`` (``rw`` unless the URL says
  ``ro`` or ``rwc``), never the job store's own file or its journals;
- with ``SQLITE_LIMIT_ATTACHED`` at 0, so no second database can be opened;
- with an authorizer that allows reading and changing the tables of the
  ``main`` database only (see :data:`ALLOWED_ACTIONS`) and denies the rest.

The authorizer runs in SQLite at prepare time, so a denied statement never
runs; it remembers why, so the job's error can say what was refused.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
import weakref
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy.engine import make_url

from flowjobs.errors import FlowExecutionError

NOT_ALLOWED = "SqlNotAllowed"  # the error type of a refused statement or file

# Actions a statement may take on the main database. Everything else is
# denied: ATTACH and DETACH (VACUUM also asks for ATTACH), PRAGMA, temporary
# objects, virtual tables, and any action a later SQLite may add.
ALLOWED_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_SELECT,
        sqlite3.SQLITE_READ,
        sqlite3.SQLITE_INSERT,
        sqlite3.SQLITE_UPDATE,
        sqlite3.SQLITE_DELETE,
        sqlite3.SQLITE_RECURSIVE,
        sqlite3.SQLITE_FUNCTION,
        sqlite3.SQLITE_TRANSACTION,
        sqlite3.SQLITE_SAVEPOINT,
        sqlite3.SQLITE_CREATE_TABLE,
        sqlite3.SQLITE_CREATE_INDEX,
        sqlite3.SQLITE_CREATE_VIEW,
        sqlite3.SQLITE_CREATE_TRIGGER,
        sqlite3.SQLITE_DROP_TABLE,
        sqlite3.SQLITE_DROP_INDEX,
        sqlite3.SQLITE_DROP_VIEW,
        sqlite3.SQLITE_DROP_TRIGGER,
        sqlite3.SQLITE_ALTER_TABLE,
        sqlite3.SQLITE_REINDEX,
        sqlite3.SQLITE_ANALYZE,
    }
)
# SQL functions that reach files or code (the last two exist only in some builds).
DENIED_FUNCTIONS = frozenset({"load_extension", "fts3_tokenizer", "readfile", "writefile"})
# The one PRAGMA allowed: read (no value) by SQLAlchemy when it first connects.
_READ_ONLY_PRAGMAS = frozenset({"read_uncommitted"})
_TEMP_ACTIONS = frozenset(
    {
        sqlite3.SQLITE_CREATE_TEMP_INDEX,
        sqlite3.SQLITE_CREATE_TEMP_TABLE,
        sqlite3.SQLITE_CREATE_TEMP_TRIGGER,
        sqlite3.SQLITE_CREATE_TEMP_VIEW,
        sqlite3.SQLITE_DROP_TEMP_INDEX,
        sqlite3.SQLITE_DROP_TEMP_TABLE,
        sqlite3.SQLITE_DROP_TEMP_TRIGGER,
        sqlite3.SQLITE_DROP_TEMP_VIEW,
    }
)
_DENIED_NAMES = {
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_CREATE_VTABLE: "CREATE VIRTUAL TABLE",
    sqlite3.SQLITE_DROP_VTABLE: "dropping a virtual table",
}
_MODES = frozenset({"ro", "rw", "rwc"})
_JOURNALS = ("", "-wal", "-shm", "-journal")


class SqliteGuard:
    """The authorizer of one connection; remembers why it last said no."""

    def __init__(self) -> None:
        self.refused: str | None = None

    def __call__(
        self, action: int, arg1: str | None, arg2: str | None, database: str | None, _: Any
    ) -> int:
        reason = why_refused(action, arg1, arg2, database)
        if reason is None:
            return sqlite3.SQLITE_OK
        self.refused = reason
        return sqlite3.SQLITE_DENY


def why_refused(
    action: int, arg1: str | None, arg2: str | None, database: str | None
) -> str | None:
    """Why the authorizer denies this action, or None when it is allowed."""
    if action == sqlite3.SQLITE_ATTACH:
        return "ATTACH and VACUUM are not allowed (they open another database file)"
    if action == sqlite3.SQLITE_PRAGMA:
        if arg1 in _READ_ONLY_PRAGMAS and arg2 is None:
            return None
        return f"PRAGMA {arg1} is not allowed"
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in DENIED_FUNCTIONS:
        return f"the function {arg2}() is not allowed"
    if action in _TEMP_ACTIONS or database == "temp":
        return "temporary tables, views, indexes and triggers are not allowed"
    if action not in ALLOWED_ACTIONS:
        what = _DENIED_NAMES.get(action, f"SQLite action {action}")
        return f"{what} is not allowed"
    if database not in (None, "main"):
        return f"the database {database!r} is not allowed"
    return None


# The guard of each open connection, so that a refusal can be explained.
_GUARDS: weakref.WeakKeyDictionary[aiosqlite.Connection, SqliteGuard] = weakref.WeakKeyDictionary()


def refusal(driver: Any) -> str | None:
    """Why the guard of this aiosqlite connection last refused, if it did."""
    guard = _GUARDS.get(driver) if isinstance(driver, aiosqlite.Connection) else None
    return None if guard is None else guard.refused


@dataclass(frozen=True)
class SqliteTarget:
    """A SQLite named connection's file (None: in memory) and how it is opened."""

    path: Path | None
    mode: str = "rw"
    timeout: float = 5.0

    @classmethod
    def from_url(cls, url: str) -> SqliteTarget:
        """Parse ``sqlite:///path?mode=ro&timeout=2``; ValueError if it names
        anything else (a URL cannot smuggle in other URI parameters)."""
        parsed = make_url(url)
        unknown = set(parsed.query) - {"mode", "timeout"}
        if unknown:
            raise ValueError(f"unknown SQLite URL option {sorted(unknown)[0]!r} (mode, timeout)")
        mode = str(parsed.query.get("mode", "rw"))
        if mode not in _MODES:
            raise ValueError(f"mode={mode!r}: use ro, rw or rwc")
        timeout = float(str(parsed.query.get("timeout", "5")))
        database = parsed.database
        if not database or database == ":memory:":
            return cls(None, mode, timeout)
        return cls(Path(os.path.abspath(database)), mode, timeout)

    def uri(self) -> str:
        if self.path is None:
            return "file::memory:"
        return f"file:{urllib.parse.quote(str(self.path))}?mode={self.mode}"

    def check_not(self, protected: Iterable[Path]) -> None:
        """FlowExecutionError if this file is one of ``protected`` (the job
        store's database and journals): same path once links are resolved,
        or the same file under another name (a hard link)."""
        if self.path is None:
            return
        mine = os.path.realpath(self.path)
        for other in protected:
            if mine == os.path.realpath(other) or _same_file(self.path, other):
                raise FlowExecutionError(
                    f"{self.path} is the job store's database file; "
                    "no named connection may open it",
                    error_type=NOT_ALLOWED,
                )


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def protected_files(store_files: Collection[Path]) -> tuple[Path, ...]:
    """The job store's database files and their journals (-wal, -shm, -journal)."""
    return tuple(
        Path(f"{os.path.abspath(base)}{suffix}") for base in store_files for suffix in _JOURNALS
    )


def guarded_connector(target: SqliteTarget, protected: Collection[Path]) -> Callable[[], Any]:
    """An ``async_creator`` for SQLAlchemy: a fresh guarded aiosqlite connection."""

    async def connect() -> aiosqlite.Connection:
        target.check_not(protected)  # again at every open: files can be linked later
        conn = await aiosqlite.connect(
            target.uri(), uri=True, timeout=target.timeout, factory=_LimitedConnection
        )
        guard = SqliteGuard()
        await conn.set_authorizer(guard)
        _GUARDS[conn] = guard
        return conn

    return connect


class _LimitedConnection(sqlite3.Connection):
    """A sqlite3 connection that can attach no database (set in the
    connection's own thread, before anything runs on it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
