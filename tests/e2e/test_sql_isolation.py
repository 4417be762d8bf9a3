"""A flow cannot reach the job store through a SQLite named connection.

Done the way the attack was found: real flows with a ``sql`` node, started
over HTTP and run by the server's real worker against a real SQLite named
connection, try to ATTACH the job store's file, change the connection with
PRAGMAs, VACUUM INTO a copy, load an extension, open other files and leave
state for later jobs. Each is refused with a clear job error, nothing
persists to the next job, and a space the connection does not list cannot
use it. A named connection on the job store's own file stops the start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowjobs.config import Settings
from flowjobs.domain import KeyKind
from flowjobs.runtime import build_services
from flowjobs.store import upgrade
from support.processes import cli_env, serving, wait_for

JOB_TIMEOUT = 20.0
# The attack's second step: a Management key for every space, in an attached job store.
PLANT_KEY = (
    "INSERT INTO fj.api_keys (id, space_id, name, kind, key_hash, created_at) "
    "SELECT 'planted-' || id, id, 'planted', 'management', 'h-' || id, '2026-01-01' "
    "FROM fj.spaces"
)


def sql_flow(alias: str, query: str, mode: str = "rows") -> dict[str, Any]:
    return {
        "name": alias,
        "alias": alias,
        "nodes": [
            {"id": "q", "type": "sql", "connection": "local", "query": query, "mode": mode},
            {"id": "out", "type": "end", "output": "q"},
        ],
    }


@dataclass
class Attack:
    alias: str
    query: str
    refused: str  # in the job's error message


@dataclass
class Setup:
    tmp: Path
    store_file: Path
    base_url: str
    attacker: str  # Solver key of the space the connection lists
    bystander: str  # Solver key of a space it does not list
    bystander_management: str
    attacks: list[Attack]


def attacks(tmp: Path, store_file: Path) -> list[Attack]:
    other = tmp / "other.db"
    copy = tmp / "copy.db"
    return [
        Attack("attach-store", f"ATTACH DATABASE '{store_file}' AS fj", "ATTACH"),
        Attack("attach-store-uri", f"ATTACH 'file:{store_file}?mode=ro' AS fj", "ATTACH"),
        Attack("attach-other", f"ATTACH DATABASE '{other}' AS o", "ATTACH"),
        Attack("create-file", f"ATTACH DATABASE '{tmp / 'new.db'}' AS n", "ATTACH"),
        Attack("vacuum-into", f"VACUUM INTO '{copy}'", "VACUUM"),
        Attack("vacuum", "VACUUM", "VACUUM"),
        Attack("detach", "DETACH DATABASE main", "DETACH"),
        Attack("pragma-journal", "PRAGMA journal_mode = DELETE", "PRAGMA journal_mode"),
        Attack("pragma-schema", "PRAGMA writable_schema = ON", "PRAGMA writable_schema"),
        Attack("pragma-query-only", "PRAGMA query_only = ON", "PRAGMA query_only"),
        Attack("pragma-read", "SELECT * FROM pragma_database_list", "PRAGMA database_list"),
        Attack(
            "load-extension",
            "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')",
            "load_extension",
        ),
        Attack("temp-table", "CREATE TEMP TABLE stash AS SELECT 1 AS x", "temporary"),
        Attack("virtual-table", "CREATE VIRTUAL TABLE v USING fts5(a)", "VIRTUAL TABLE"),
    ]


async def _provision(url: str, tmp: Path, store_file: Path) -> dict[str, Any]:
    """Two spaces, keys and flows; pushed while the connection was open to both,
    so that the worker's own check is what stops the bystander."""
    settings = Settings(
        database_url=url,
        sql_connections={"local": {"url": f"sqlite:///{tmp / 'local.db'}", "spaces": ["*"]}},
    )
    services = build_services(settings, pool_size=2)
    try:
        catalog = services.catalog
        attacker = await catalog.create_space("attacker", parallel_limit=4)
        bystander = await catalog.create_space("bystander", parallel_limit=4)
        flows = [sql_flow(a.alias, a.query) for a in attacks(tmp, store_file)] + [
            sql_flow("write", "INSERT INTO notes (text) VALUES ('mine')", "execute"),
            sql_flow("read", "SELECT text FROM notes ORDER BY id"),
            sql_flow("leftovers", "SELECT last_insert_rowid() AS id, total_changes() AS n", "one"),
            sql_flow("use-attached", "SELECT count(*) AS n FROM fj.api_keys", "one"),
            sql_flow("plant-key", PLANT_KEY, "execute"),
        ]
        for document in flows:
            await catalog.push_rule(attacker.id, document, publish=True)
        await catalog.push_rule(bystander.id, sql_flow("read", "SELECT 1 AS x"), publish=True)
        return {
            "attacker_id": attacker.id,
            "attacker": (await catalog.create_key(attacker.id, KeyKind.SOLVER, None)).secret,
            "bystander": (await catalog.create_key(bystander.id, KeyKind.SOLVER, None)).secret,
            "bystander_management": (
                await catalog.create_key(bystander.id, KeyKind.MANAGEMENT, None)
            ).secret,
        }
    finally:
        await services.close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("sql-isolation")
    store_file = tmp / "jobs.db"
    url = f"sqlite:///{store_file}"
    upgrade(url)
    with sqlite3.connect(tmp / "local.db") as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    with sqlite3.connect(tmp / "other.db") as conn:
        conn.execute("CREATE TABLE secret (x TEXT)")
    made = asyncio.run(_provision(url, tmp, store_file))
    connections = {
        "local": {"url": f"sqlite:///{tmp / 'local.db'}", "spaces": [made["attacker_id"]]}
    }
    env = {"FLOWJOBS_SQL_CONNECTIONS": json.dumps(connections), "FLOWJOBS_POLL_INTERVAL": "0.1"}
    with serving(url, tmp, worker=True, name="sql-isolation", extra_env=env) as server:
        assert server.base_url is not None
        yield Setup(
            tmp,
            store_file,
            server.base_url,
            made["attacker"],
            made["bystander"],
            made["bystander_management"],
            attacks(tmp, store_file),
        )


def run_job(setup: Setup, key: str, alias: str) -> dict[str, Any]:
    """Start ``alias`` and wait for its end; the ended job."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=setup.base_url, headers=headers, timeout=10) as client:
        started = client.post(f"/job/start/{alias}", json={"data": {}})
        assert started.status_code == 200, started.text
        job_id = started.json()["jobId"]

        def ended() -> dict[str, Any] | None:
            job: dict[str, Any] = client.get(f"/job/{job_id}").json()
            return job if job["status"]["state"] in {"COMPLETED", "ERROR", "CANCELED"} else None

        result: dict[str, Any] = wait_for(ended, timeout=JOB_TIMEOUT)
        return result


def test_every_escape_is_refused_with_a_clear_job_error(setup: Setup) -> None:
    failures = []
    for attack in setup.attacks:
        job = run_job(setup, setup.attacker, attack.alias)
        error = job["error"] or {}
        if not (
            job["status"]["state"] == "ERROR"
            and error.get("type") == "SqlNotAllowed"
            and attack.refused in error.get("message", "")
            and 'connection "local"' in error.get("message", "")
        ):
            failures.append((attack.alias, job["status"], error))
    assert not failures, failures
    # nothing was written outside the connection's own file
    assert not (setup.tmp / "copy.db").exists()
    assert not (setup.tmp / "new.db").exists()
    with sqlite3.connect(setup.tmp / "other.db") as conn:
        assert conn.execute("SELECT count(*) FROM secret").fetchone() == (0,)


def test_the_connection_still_does_its_job(setup: Setup) -> None:
    written = run_job(setup, setup.attacker, "write")
    assert written["status"]["state"] == "COMPLETED", written
    assert written["output"] == [{"rowCount": 1}]  # outputs are arrays on the wire
    read = run_job(setup, setup.attacker, "read")
    assert read["status"]["state"] == "COMPLETED", read
    assert {"text": "mine"} in read["output"][0]["rows"]


def test_nothing_persists_to_the_next_job(setup: Setup) -> None:
    # the attempts above left no attached database on any connection...
    for _ in range(3):
        used = run_job(setup, setup.attacker, "use-attached")
        assert used["status"]["state"] == "ERROR"
        assert used["error"]["type"] == "SqlError"
        assert "no such table: fj.api_keys" in used["error"]["message"]
    planted = run_job(setup, setup.attacker, "plant-key")
    assert planted["status"]["state"] == "ERROR"
    assert "no such table: fj.api_keys" in planted["error"]["message"]
    with contextlib.closing(sqlite3.connect(setup.store_file)) as conn:
        found = conn.execute("SELECT count(*) FROM api_keys WHERE name = 'planted'").fetchone()
    assert found == (0,)
    # ...and each job starts on a fresh connection: no rowid or change count
    # carried over from the job before
    assert run_job(setup, setup.attacker, "write")["status"]["state"] == "COMPLETED"
    leftovers = run_job(setup, setup.attacker, "leftovers")
    assert leftovers["status"]["state"] == "COMPLETED", leftovers
    assert leftovers["output"] == [{"id": 0, "n": 0}]


def test_a_space_the_connection_does_not_list_cannot_use_it(setup: Setup) -> None:
    # at run time: a flow pushed while the space was listed
    job = run_job(setup, setup.bystander, "read")
    assert job["status"]["state"] == "ERROR"
    assert job["error"]["type"] == "UnknownConnection"
    assert 'unknown SQL connection "local" (configured: none)' in job["error"]["message"]
    # at push: the space's flows cannot name it
    headers = {"Authorization": f"Bearer {setup.bystander_management}"}
    pushed = httpx.post(
        f"{setup.base_url}/api/rule",
        json=sql_flow("peek", "SELECT 1"),
        headers=headers,
        timeout=10,
    )
    assert pushed.status_code == 400, pushed.text
    assert pushed.json()["problems"] == [
        'nodes[0] (id "q"): unknown connection "local" (configured: none)'
    ]


@pytest.mark.parametrize(
    ("command", "name"),
    [(["worker", "--burst"], "jobs.db"), (["serve", "--port", "1"], "link-to-jobs.db")],
)
def test_a_connection_on_the_job_store_file_stops_the_start_up(
    setup: Setup, command: list[str], name: str
) -> None:
    url = f"sqlite:///{setup.store_file}"
    link = setup.tmp / "link-to-jobs.db"
    if not link.exists():
        link.symlink_to(setup.store_file)
    connections = {"store": {"url": f"sqlite:///{setup.tmp / name}", "spaces": ["*"]}}
    done = subprocess.run(
        [sys.executable, "-m", "flowjobs", *command],
        env=cli_env(url, {"FLOWJOBS_SQL_CONNECTIONS": json.dumps(connections)}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f'error: SQL connection "store": {setup.tmp / name} is the job store\'s database '
        "file; no named connection may open it"
    ], done.stderr
