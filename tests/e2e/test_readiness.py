"""A ``flowjobs worker --metrics-port`` process over PostgreSQL: its own
/metrics, and /readyz that is ready, then not (schema behind, then the
database gone), while /healthz stays 200."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from alembic import command

from flowjobs.store import upgrade
from flowjobs.store.migrate import alembic_config
from support.processes import free_port, running, serving

from .helpers import assert_problem

PG_ADMIN = os.environ.get("FLOWJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _admin(statement: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.fixture
def database(pg_template: str) -> Iterator[str]:
    """A database of its own (the test drops it), cloned from the migrated template."""
    name = f"flowjobs_e2e_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    try:
        yield name
    finally:
        _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_worker_serves_metrics_and_readiness(database: str, tmp_path: Path) -> None:
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + database
    port = free_port()
    args = ("worker", "--metrics-port", str(port))
    with (
        running(url, *args, log_dir=tmp_path, name="w", port=port) as worker,
        httpx.Client(base_url=str(worker.base_url), timeout=15) as http,
    ):
        metrics = http.get("/metrics").text
        assert "flowjobs_claims_total 0.0" in metrics and "process_cpu_seconds_total" in metrics
        assert http.get("/job").status_code == 404  # no API here
        assert http.get("/readyz").json() == {"status": "ready"}
        command.downgrade(alembic_config(url), "0005")
        body = assert_problem(http.get("/readyz"), 503, "NOT_READY")
        assert "revision 0005" in body["detail"]
        upgrade(url)
        assert http.get("/readyz").json() == {"status": "ready"}

        _admin(f"DROP DATABASE {database} WITH (FORCE)")
        body = assert_problem(http.get("/readyz"), 503, "NOT_READY")
        assert "unreachable" in body["detail"]
        assert http.get("/healthz").json() == {"status": "ok"}  # alive all the same
        metrics_response = http.get("/metrics")
        assert metrics_response.status_code == 200
        assert "flowjobs_database_up 0.0" in metrics_response.text


def _sqlite_database(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "ready.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    return path, url


def test_a_deleted_sqlite_file_is_not_ready(tmp_path: Path) -> None:
    """The server's open connections go on reading the unlinked file, so the
    schema query still answers: the file itself is checked."""
    path, url = _sqlite_database(tmp_path)
    with (
        serving(url, tmp_path, worker=False, name="sqlite-ready") as server,
        httpx.Client(base_url=str(server.base_url), timeout=15) as http,
    ):
        assert http.get("/readyz").json() == {"status": "ready"}
        path.unlink()
        body = assert_problem(http.get("/readyz"), 503, "NOT_READY")
        assert "is missing" in body["detail"] and str(path) in body["detail"]
        assert http.get("/healthz").status_code == 200


def test_a_full_disk_is_not_ready(tmp_path: Path) -> None:
    """A full disk, simulated safely: the minimum free space asked for is more
    than the disk of the database file has."""
    path, url = _sqlite_database(tmp_path)
    free_mb = shutil.disk_usage(path.parent).free / 1024 / 1024
    env = {"FLOWJOBS_READY_MIN_FREE_MB": str(int(free_mb * 2) + 1)}
    with (
        serving(url, tmp_path, worker=False, name="sqlite-full", extra_env=env) as server,
        httpx.Client(base_url=str(server.base_url), timeout=15) as http,
    ):
        body = assert_problem(http.get("/readyz"), 503, "NOT_READY")
        assert "FLOWJOBS_READY_MIN_FREE_MB" in body["detail"]
        assert http.get("/healthz").status_code == 200
