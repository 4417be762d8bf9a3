"""PostgreSQL named connections: refused at start-up when their role could
reach the job store, reset between statements, on the real server.

Each test makes a role of its own (tests/support/pgroles.py) and drops it
after; the job store is the fresh database of the ``pg_url`` fixture.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import text

from flowjobs.config import Settings
from flowjobs.engine import SqlConnections
from flowjobs.engine.sql import run_statement
from flowjobs.errors import ConfigurationError
from flowjobs.runtime import build_services
from support.pgroles import PG_ADMIN, admin, pg_role
from support.processes import cli_env

pytestmark = pytest.mark.postgres


def _database(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _start_worker(database_url: str, connection_url: str) -> subprocess.CompletedProcess[str]:
    """``flowjobs worker --burst`` with one named connection open to every space."""
    connections = {"crm": {"url": connection_url, "spaces": ["*"]}}
    return subprocess.run(
        [sys.executable, "-m", "flowjobs", "worker", "--burst"],
        env=cli_env(database_url, {"FLOWJOBS_SQL_CONNECTIONS": json.dumps(connections)}),
        capture_output=True,
        text=True,
        timeout=60,
    )


def _error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.startswith("error:")]


async def _check(database_url: str, connection_url: str) -> None:
    """The start-up check of a worker in this process."""
    settings = Settings(
        database_url=database_url,
        sql_connections={"crm": {"url": connection_url, "spaces": ["*"]}},
    )
    services = build_services(settings, pool_size=1)
    worker = services.worker()
    try:
        await services.check_sql_connections(worker)
    finally:
        await worker.flows.close()
        await services.close()


def test_a_superuser_connection_is_refused_at_start_up(pg_url: str) -> None:
    with pg_role() as role:
        superuser = PG_ADMIN.rsplit("/", 1)[0] + "/" + role.database
        done = _start_worker(pg_url, superuser)
    assert done.returncode == 1, done.stderr
    assert _error_lines(done) == [
        'error: SQL connection "crm" refused: its role "postgres" is a superuser; give it a '
        "role with only the rights its flows need (docs/security.md)"
    ]


def test_a_role_that_can_read_the_job_store_is_refused_at_start_up(pg_url: str) -> None:
    with pg_role() as role:
        role.grant(_database(pg_url), f"GRANT SELECT ON api_keys TO {role.name}")
        done = _start_worker(pg_url, role.url())
    assert done.returncode == 1, done.stderr
    assert _error_lines(done) == [
        f'error: SQL connection "crm" refused: its role "{role.name}" can use the job '
        "store's tables; give it a role with only the rights its flows need (docs/security.md)"
    ]


def test_an_unprivileged_role_starts(pg_url: str) -> None:
    with pg_role() as role:
        done = _start_worker(pg_url, role.url())
    assert done.returncode == 0, done.stderr
    assert _error_lines(done) == []


async def test_rights_through_another_role_are_refused(pg_url: str) -> None:
    with pg_role() as role:
        group = f"{role.name}_group"
        admin(f"CREATE ROLE {group} NOLOGIN", f"GRANT {group} TO {role.name}")
        try:
            role.grant(_database(pg_url), f"GRANT UPDATE (name) ON spaces TO {group}")
            with pytest.raises(ConfigurationError) as info:
                await _check(pg_url, role.url())
            assert f'can use the job store\'s tables (through "{group}")' in info.value.message
        finally:
            admin(f"DROP OWNED BY {group}", database=_database(pg_url))
            admin(f"DROP ROLE {group}")


async def test_roles_that_can_take_more_rights_are_refused(pg_url: str) -> None:
    with pg_role() as role:
        admin(f"ALTER ROLE {role.name} CREATEROLE")
        with pytest.raises(ConfigurationError, match="can create roles"):
            await _check(pg_url, role.url())
        admin(f"ALTER ROLE {role.name} NOCREATEROLE", f"GRANT pg_read_server_files TO {role.name}")
        with pytest.raises(ConfigurationError, match="is a member of pg_read_server_files"):
            await _check(pg_url, role.url())
        admin(f"REVOKE pg_read_server_files FROM {role.name}")
        await _check(pg_url, role.url())  # and now it passes


async def test_the_job_store_database_itself_is_refused(pg_url: str) -> None:
    """A role with rights in the job store's own database, named as a connection to it."""
    with pg_role() as role:
        role.grant(_database(pg_url), f"GRANT SELECT ON jobs TO {role.name}")
        with pytest.raises(ConfigurationError, match="can use the job store's tables"):
            await _check(pg_url, role.url(_database(pg_url)))


async def test_an_unreachable_connection_is_checked_before_its_first_statement(
    pg_url: str,
) -> None:
    """Unreachable at start-up: a warning; then refused before it runs anything."""
    with pg_role() as role:
        sql = SqlConnections({"crm": PG_ADMIN.rsplit("/", 1)[0] + "/no_such_db_x"})
        try:
            assert any("cannot be checked" in w for w in await sql.check(None))
        finally:
            await sql.close()
        superuser = SqlConnections({"crm": PG_ADMIN.rsplit("/", 1)[0] + "/" + role.database})
        try:
            with pytest.raises(Exception, match="is a superuser"):
                await superuser.engine("crm")
        finally:
            await superuser.close()


async def _one(sql: SqlConnections, query: str) -> Any:
    return await run_statement(await sql.engine("crm"), text(query), {}, "one")


async def test_no_session_state_passes_to_the_next_statement(pg_url: str) -> None:
    """One pooled connection: what one job sets is gone for the next.
    (``pg_url``: the server answers; the test skips, or fails in CI, otherwise.)"""
    with pg_role() as role:
        sql = SqlConnections({"crm": role.url()}, pool_size=1)
        try:
            await _one(sql, "SELECT set_config('flowjobs.leak', 'secret', false) AS v")
            await _one(sql, "SELECT pg_advisory_lock(4242) AS v")
            await run_statement(
                await sql.engine("crm"),
                text("CREATE TEMP TABLE stash AS SELECT 'secret' AS v"),
                {},
                "execute",
            )
            assert await _one(sql, "SELECT current_setting('flowjobs.leak', true) AS v") in (
                {"v": None},
                {"v": ""},
            )
            held = "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242"
            assert await _one(sql, held) == {"n": 0}
            temp = "SELECT count(*) AS n FROM pg_class WHERE relname = 'stash'"
            assert await _one(sql, temp) == {"n": 0}
            for value in range(8):  # past psycopg's prepare threshold: still fine
                assert await _one(sql, f"SELECT {value} AS v") == {"v": value}
        finally:
            await sql.close()
