"""The SQLite guard of named connections, their space scoping and their
configuration (engine/sqlite_guard.py, engine/sql.py, config.py)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flowjobs.config import Settings
from flowjobs.engine import EngineServices, SqlConnections, compile_flow, run_flow
from flowjobs.engine.pg_guard import JobStoreRoles, PgIdentity, PgRole, refusals
from flowjobs.engine.sql import NamedConnection
from flowjobs.engine.sqlite_guard import SqliteTarget, protected_files, why_refused
from flowjobs.errors import ConfigurationError, FlowExecutionError, FlowValidationError
from flowjobs.flowsetup import compile_document


def sql_flow(query: str, connection: str = "main") -> dict[str, Any]:
    return {
        "name": "guard",
        "nodes": [
            {"id": "q", "type": "sql", "connection": connection, "query": query},
            {"id": "out", "type": "end", "output": "q"},
        ],
    }


async def run(make_ctx: Any, sql: Any, query: str, connection: str = "main") -> Any:
    flow = compile_flow(sql_flow(query, connection))
    return await run_flow(flow, make_ctx(None), services=EngineServices(sql=sql))


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "data.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")
    return path


def test_the_authorizer_allows_the_main_database_only() -> None:
    allowed = [
        (sqlite3.SQLITE_SELECT, None, None, None),
        (sqlite3.SQLITE_READ, "t", "x", "main"),
        (sqlite3.SQLITE_INSERT, "t", None, "main"),
        (sqlite3.SQLITE_CREATE_TABLE, "t2", None, "main"),
        (sqlite3.SQLITE_TRANSACTION, "BEGIN", None, None),
        (sqlite3.SQLITE_FUNCTION, None, "upper", None),
        (sqlite3.SQLITE_PRAGMA, "read_uncommitted", None, None),  # SQLAlchemy's own read
    ]
    for action in allowed:
        assert why_refused(*action) is None, action
    refused = {
        (sqlite3.SQLITE_ATTACH, "/x/jobs.db", None, None): "ATTACH and VACUUM",
        (sqlite3.SQLITE_DETACH, "main", None, None): "DETACH",
        (sqlite3.SQLITE_PRAGMA, "journal_mode", "wal", None): "PRAGMA journal_mode",
        (sqlite3.SQLITE_PRAGMA, "read_uncommitted", "1", None): "PRAGMA read_uncommitted",
        (sqlite3.SQLITE_FUNCTION, None, "LOAD_EXTENSION", None): "LOAD_EXTENSION()",
        (sqlite3.SQLITE_CREATE_TEMP_TABLE, "t", None, "temp"): "temporary",
        (sqlite3.SQLITE_READ, "t", "x", "temp"): "temporary",
        (sqlite3.SQLITE_CREATE_VTABLE, "v", "fts5", "main"): "CREATE VIRTUAL TABLE",
        (sqlite3.SQLITE_READ, "t", "x", "fj"): "the database 'fj'",
        (99, None, None, None): "SQLite action 99",  # an action a later SQLite may add
    }
    for action, reason in refused.items():
        assert reason in (why_refused(*action) or ""), action


def test_sqlite_urls_open_by_uri_with_an_explicit_mode(tmp_path: Path) -> None:
    target = SqliteTarget.from_url(f"sqlite:///{tmp_path}/a b.db")
    assert target.uri() == f"file:{tmp_path}/a%20b.db?mode=rw"
    assert SqliteTarget.from_url("sqlite:///x.db?mode=ro").uri().endswith("x.db?mode=ro")
    assert SqliteTarget.from_url("sqlite://").path is None
    for bad, message in (
        ("sqlite:///x.db?mode=memory", "mode='memory'"),
        ("sqlite:///x.db?vfs=unix-none", "unknown SQLite URL option 'vfs'"),
        ("sqlite:///x.db?cache=shared", "unknown SQLite URL option 'cache'"),
    ):
        with pytest.raises(ValueError, match=message):
            SqliteTarget.from_url(bad)
    with pytest.raises(ConfigurationError, match='SQL connection "x": mode'):
        SqlConnections({"x": "sqlite:///x.db?mode=bad"})


def test_the_job_store_files_are_refused_by_any_name(tmp_path: Path) -> None:
    store = tmp_path / "jobs.db"
    sqlite3.connect(store).close()
    protected = protected_files([store])
    os.symlink(store, tmp_path / "link.db")
    os.link(store, tmp_path / "hard.db")
    for name in ("jobs.db", "link.db", "hard.db", "jobs.db-wal", "jobs.db-shm", "./jobs.db"):
        target = SqliteTarget.from_url(f"sqlite:///{tmp_path}/{name}")
        with pytest.raises(FlowExecutionError, match="job store's database file"):
            target.check_not(protected)
    SqliteTarget.from_url(f"sqlite:///{tmp_path}/other.db").check_not(protected)


async def test_a_connection_on_the_store_file_fails_check_and_run(
    tmp_path: Path, make_ctx: Any
) -> None:
    store = tmp_path / "jobs.db"
    sqlite3.connect(store).close()
    sql = SqlConnections({"main": f"sqlite:///{store}"}, store_files=[store])
    try:
        with pytest.raises(ConfigurationError, match=r'SQL connection "main": .*job store'):
            await sql.check(None)
        with pytest.raises(FlowExecutionError) as info:
            await run(make_ctx, sql, "SELECT 1")
        assert info.value.error_type == "SqlNotAllowed"
    finally:
        await sql.close()


async def test_a_refused_statement_is_a_clear_job_error(database: Path, make_ctx: Any) -> None:
    sql = SqlConnections({"main": f"sqlite:///{database}"})
    try:
        with pytest.raises(FlowExecutionError) as info:
            await run(make_ctx, sql, f"ATTACH DATABASE '{database}' AS again")
        assert info.value.error_type == "SqlNotAllowed"
        assert info.value.node_id == "q"
        assert info.value.message == (
            'node "q" (connection "main"): ATTACH and VACUUM are not allowed '
            "(they open another database file)"
        )
        # an ordinary error stays an SqlError
        with pytest.raises(FlowExecutionError) as info:
            await run(make_ctx, sql, "SELECT * FROM nope")
        assert info.value.error_type == "SqlError"
    finally:
        await sql.close()


async def test_read_only_mode_and_missing_files(
    tmp_path: Path, database: Path, make_ctx: Any
) -> None:
    sql = SqlConnections(
        {
            "main": f"sqlite:///{database}?mode=ro",
            "missing": f"sqlite:///{tmp_path}/missing.db",
        }
    )
    try:
        assert await run(make_ctx, sql, "SELECT count(*) AS n FROM t") == {
            "rows": [{"n": 0}],
            "rowCount": 1,
        }
        with pytest.raises(FlowExecutionError, match="readonly"):
            await run(make_ctx, sql, "INSERT INTO t VALUES (1)")
        with pytest.raises(FlowExecutionError, match="unable to open"):
            await run(make_ctx, sql, "SELECT 1", connection="missing")
        assert not (tmp_path / "missing.db").exists()  # mode=rw creates nothing
    finally:
        await sql.close()


async def test_a_space_sees_only_the_connections_open_to_it(database: Path, make_ctx: Any) -> None:
    url = f"sqlite:///{database}"
    sql = SqlConnections(
        {
            "main": NamedConnection(url, frozenset({"space-a"})),
            "shared": NamedConnection(url, frozenset({"*"})),
            "closed": NamedConnection(url),
        }
    )
    try:
        a, b = sql.for_space("space-a"), sql.for_space("space-b")
        assert a.names == ("main", "shared") and b.names == ("shared",)
        assert await run(make_ctx, a, "SELECT 1 AS x") == {"rows": [{"x": 1}], "rowCount": 1}
        assert await run(make_ctx, b, "SELECT 1 AS x", connection="shared")
        for space, name in ((b, "main"), (a, "closed"), (b, "closed")):
            with pytest.raises(FlowExecutionError) as info:
                await run(make_ctx, space, "SELECT 1", connection=name)
            assert info.value.error_type == "UnknownConnection"
            assert f'unknown SQL connection "{name}"' in info.value.message
        warnings = await sql.check(None)
        assert warnings == [
            'SQL connection "closed" is open to no space (list space ids in its "spaces")'
        ]
    finally:
        await sql.close()


def test_settings_list_the_spaces_of_each_connection() -> None:
    settings = Settings(
        sql_connections={
            "bare": "sqlite:///a.db",
            "crm": {"url": "postgresql://app@db/crm", "spaces": ["s1", "s2"]},
            "all": {"url": "sqlite:///b.db", "spaces": ["*"]},
        }
    )
    assert settings.sql_connections["bare"].spaces == ()
    assert settings.sql_connections_open_to("s1") == ["all", "crm"]
    assert settings.sql_connections_open_to("s3") == ["all"]
    with pytest.raises(ValueError, match="Extra inputs"):
        Settings(sql_connections={"x": {"url": "sqlite://", "space": ["s1"]}})
    document = sql_flow("SELECT 1", connection="crm")
    compile_document(settings, document)  # every configured name, without a space
    compile_document(settings, document, "s2")
    with pytest.raises(FlowValidationError, match=r'unknown connection "crm" \(configured: all\)'):
        compile_document(settings, document, "s3")


def _identity(*roles: PgRole, cluster: str = "c1") -> PgIdentity:
    return PgIdentity(roles[0].name, roles, cluster)


def test_postgres_refusals() -> None:
    app = PgRole("app", superuser=False, create_role=False)
    store = JobStoreRoles("c1", frozenset({"flowjobs", "readers"}))
    assert refusals(_identity(app), store) == []
    assert refusals(_identity(PgRole("root", True, False)), store) == ["is a superuser"]
    assert refusals(_identity(app, PgRole("admin", True, False)), None) == [
        'can become a superuser (through "admin")'
    ]
    assert refusals(_identity(app, PgRole("readers", False, False)), store) == [
        'can use the job store\'s tables (through "readers")'
    ]
    # the same role names on another server are not the job store's
    assert refusals(_identity(app, PgRole("readers", False, False), cluster="c2"), store) == []
    assert refusals(_identity(app, PgRole("pg_execute_server_program", False, False)), None) == [
        "is a member of pg_execute_server_program (the server's files and programs)"
    ]
    assert refusals(_identity(PgRole("app", False, True)), None) == ["can create roles"]
