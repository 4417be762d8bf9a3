"""Database and configuration mistakes end the real ``flowjobs`` process with
one line on stderr (what failed, the redacted URL, what to do) and exit code
2; the traceback only with ``--debug`` or ``FLOWJOBS_LOG_LEVEL=DEBUG``."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
import pytest

from support.processes import free_port

PASSWORD = "s3cret-pw"
PG_ADMIN = os.environ.get("FLOWJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")}
    return subprocess.run(
        [sys.executable, "-m", "flowjobs", *args],
        env=clean | dict(env or {}),
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in done.stderr
    return lines[0]


def refused_url() -> str:
    # a loopback port nobody listens on (taken and released just now)
    return f"postgresql://flowjobs:{PASSWORD}@127.0.0.1:{free_port()}/flowjobs"


@pytest.mark.parametrize("command", [["init"], ["space", "create", "x"], ["serve"], ["worker"]])
def test_a_refused_connection_is_one_line_with_the_redacted_url(command: list[str]) -> None:
    url = refused_url()
    line = one_line_error(run_cli("--database-url", url, *command))
    assert "cannot connect to the database" in line
    assert url.replace(PASSWORD, "[redacted]") in line
    assert PASSWORD not in line
    assert "start PostgreSQL" in line


@pytest.mark.parametrize("command", [["init"], ["space", "list"], ["serve", "--no-worker"]])
def test_an_unknown_scheme_names_it_and_the_valid_ones(command: list[str]) -> None:
    url = f"postgress://flowjobs:{PASSWORD}@127.0.0.1/flowjobs"
    line = one_line_error(run_cli(*command, env={"FLOWJOBS_DATABASE_URL": url}))
    assert "unknown database URL scheme 'postgress'" in line
    assert "postgresql://USER:PASSWORD@HOST:PORT/DATABASE" in line
    assert PASSWORD not in line


def test_a_sqlite_file_without_the_schema_says_to_run_init(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    line = one_line_error(run_cli("--database-url", url, "space", "create", "x"))
    assert f"the database at {url} has no flowjobs schema" in line
    assert "run: flowjobs init" in line


@pytest.fixture
def empty_pg_url(pg_template: str) -> Iterator[str]:
    """A PostgreSQL database without any table (pg_template: skip or fail like
    every PostgreSQL test when the server is not there)."""
    name = f"flowjobs_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def test_a_postgresql_database_without_the_schema_says_to_run_init(empty_pg_url: str) -> None:
    line = one_line_error(run_cli("--database-url", empty_pg_url, "key", "list", "--space", "x"))
    assert "has no flowjobs schema" in line and "run: flowjobs init" in line


def test_a_missing_postgresql_database_says_to_create_it(pg_template: str) -> None:
    url = PG_ADMIN.rsplit("/", 1)[0] + "/flowjobs_no_such_database"
    line = one_line_error(run_cli("--database-url", url, "init"))
    assert "'flowjobs_no_such_database' does not exist" in line and "createdb" in line


def test_a_duplicate_space_names_the_space(db_url: str) -> None:
    assert run_cli("--database-url", db_url, "space", "create", "acme").returncode == 0
    line = one_line_error(run_cli("--database-url", db_url, "space", "create", "acme"))
    assert line.startswith("error: a space named 'acme' already exists")
    assert "UNIQUE" not in line and "duplicate key" not in line


def test_an_invalid_setting_names_the_variable() -> None:
    line = one_line_error(run_cli("init", env={"FLOWJOBS_DB_POOL_SIZE": "many"}))
    assert "FLOWJOBS_DB_POOL_SIZE" in line


def test_debug_shows_the_traceback_before_the_line() -> None:
    url = refused_url()
    for done in (
        run_cli("--debug", "--database-url", url, "init"),
        run_cli("--database-url", url, "init", env={"FLOWJOBS_LOG_LEVEL": "debug"}),
    ):
        assert done.returncode == 2
        assert "Traceback (most recent call last)" in done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith("error: cannot connect")
