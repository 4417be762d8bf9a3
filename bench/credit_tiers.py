"""Rows per second of the example flow ``examples/credit-tiers.yaml``, end to end.

For each backend (SQLite, PostgreSQL), the same backend serves both as the
jobs database (``FLOWJOBS_DATABASE_URL``) and as the flow's ``crm`` SQL
connection. The bench:

* creates a crm database with the example's ``customers`` table and ``--rows``
  generated customers (varied income, debts and late payments, so that all four
  tiers occur);
* sets up a jobs database with ``flowjobs init``, ``space create``,
  ``key create`` and ``rule push --publish`` (as tests/e2e does), then runs
  ``flowjobs serve`` (API and embedded worker) on a free 127.0.0.1 port;
* ``--repeat`` times: sets every tier to NULL, starts ``credit-tiers`` with
  ``{"batchSize": rows}``, polls ``GET /job/{id}`` every 50 ms until it ends,
  checks it COMPLETED and that every row got a tier, and records
  ``rows / (endedAt - claimedAt)`` (the job's own timestamps) and the wall time
  from the start call to the client seeing the end.

The server gets ``FLOWJOBS_MAX_FOREACH_ITEMS`` and ``FLOWJOBS_MAX_OUTPUT_BYTES``
raised to fit ``--rows`` when the defaults would not (the job's output lists
every row's tier). PostgreSQL runs on ``postgresql://postgres@127.0.0.1:5432``
with trust auth; it is skipped with a message when unreachable. Temporary
files and databases are removed even when a run fails.

Each JSONata evaluation of the engine re-validates the whole scope (which holds
every row the ``customers`` node read), so one job's time grows with the square
of its rows: 20,000 rows in one job take hours, and the server answers no GET
while the foreach runs. ``--batch-size B`` runs jobs of B rows one after the
other until every row has a tier (rows/s then uses the sum of the jobs'
``endedAt - claimedAt``).

Usage: ``python bench/credit_tiers.py [--rows N] [--repeat N] [--batch-size B]
[--backends sqlite,postgresql] [--timeout S]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
FLOW = EXAMPLES / "credit-tiers.yaml"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BASE = "postgresql://postgres@127.0.0.1:5432"
DEFAULT_MAX_FOREACH_ITEMS = 100_000
DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024
OUTPUT_BYTES_PER_ROW = 64  # {"id": 1234567, "tier": "A"}, with room to spare
POLL_SECONDS = 0.05
MAX_POLLS = 1_000_000  # bounds the poll loop besides its deadline
FINAL_STATES = ("COMPLETED", "ERROR", "CANCELED")


class BenchError(RuntimeError):
    """A run that did not complete as expected."""


@dataclass
class Result:
    backend: str
    rows: int
    batch: int
    rates: list[float] = field(default_factory=list)  # rows / (endedAt - claimedAt)
    server_seconds: list[float] = field(default_factory=list)
    wall_seconds: list[float] = field(default_factory=list)  # start call -> end seen


class Crm(Protocol):
    """The crm database of one backend."""

    url: str

    def reset(self) -> None: ...

    def tiers(self) -> dict[str | None, int]: ...


# --- data ---------------------------------------------------------------------------------


def customer_ddl() -> str:
    """The ``CREATE TABLE`` statement of examples/customers.sql (without its sample rows)."""
    text = (EXAMPLES / "customers.sql").read_text()
    start = text.index("CREATE TABLE")
    return text[start : text.index(";", start) + 1]


def customers(count: int, seed: int = 42) -> list[tuple[int, str, int, int, int]]:
    """``(id, name, income, debts, late_payments)`` rows; debts/income spreads over
    0..0.9 and late payments over 0..6, so that every tier of the flow occurs."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, count + 1):
        income = rng.randrange(20_000, 150_001, 500)
        debts = int(income * rng.uniform(0.0, 0.9))
        late = rng.choice((0, 0, 0, 1, 1, 2, 3, 4, 6))
        rows.append((i, f"customer {i}", income, debts, late))
    return rows


INSERT = "INSERT INTO customers (id, name, income, debts, late_payments) VALUES "


class SqliteCrm:
    def __init__(self, path: Path, rows: int) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"
        with sqlite3.connect(path) as conn:
            conn.execute(customer_ddl())
            conn.executemany(INSERT + "(?, ?, ?, ?, ?)", customers(rows))
        conn.close()

    def reset(self) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.execute("UPDATE customers SET tier = NULL")
        conn.close()

    def tiers(self) -> dict[str | None, int]:
        with sqlite3.connect(self.path) as conn:
            found = conn.execute("SELECT tier, count(*) FROM customers GROUP BY tier").fetchall()
        conn.close()
        return {tier: int(n) for tier, n in found}


class PostgresCrm:
    def __init__(self, url: str, rows: int) -> None:
        self.url = url
        with psycopg.connect(url) as conn, conn.cursor() as cur:
            cur.execute(customer_ddl())
            cur.executemany(INSERT + "(%s, %s, %s, %s, %s)", customers(rows))

    def reset(self) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute("UPDATE customers SET tier = NULL")

    def tiers(self) -> dict[str | None, int]:
        with psycopg.connect(self.url) as conn:
            found = conn.execute("SELECT tier, count(*) FROM customers GROUP BY tier").fetchall()
        return {tier: int(n) for tier, n in found}


# --- backends -----------------------------------------------------------------------------


def postgres_reachable() -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


@contextmanager
def postgres_databases(*suffixes: str) -> Iterator[list[str]]:
    """Uniquely named databases, dropped afterwards whatever happens."""
    stem = f"flowjobs_bench_{uuid.uuid4().hex[:10]}"
    names = [f"{stem}_{suffix}" for suffix in suffixes]
    created: list[str] = []
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
                created.append(name)
        yield [f"{PG_BASE}/{name}" for name in names]
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def owner_of(database_url: str) -> Iterator[str]:
    """The database's URL as a new role that owns it: a named SQL connection
    may not be a superuser (the worker refuses it). Dropped afterwards."""
    database = database_url.rsplit("/", 1)[1]
    role = f"{database}_owner"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'ALTER DATABASE "{database}" OWNER TO "{role}"')
    try:
        yield f"postgresql://{role}@{PG_BASE.rsplit('@', 1)[1]}/{database}"
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'ALTER DATABASE "{database}" OWNER TO CURRENT_USER')
            conn.execute(f'DROP ROLE "{role}"')


@contextmanager
def backend(name: str, tmp: Path, rows: int) -> Iterator[tuple[str, Crm]]:
    """The jobs database URL and the crm database of one backend."""
    if name == "sqlite":
        yield f"sqlite:///{tmp / 'jobs.db'}", SqliteCrm(tmp / "crm.db", rows)
    elif name == "postgresql":
        with postgres_databases("jobs", "crm") as (jobs_url, crm_url), owner_of(crm_url) as url:
            yield jobs_url, PostgresCrm(url, rows)
    else:
        raise ValueError(f"unknown backend {name!r}")


# --- the server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(database_url: str, crm_url: str, rows: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWJOBS_")}
    env |= {
        "FLOWJOBS_DATABASE_URL": database_url,
        "FLOWJOBS_SQL_CONNECTIONS": json.dumps({"crm": {"url": crm_url, "spaces": ["*"]}}),
        "FLOWJOBS_MAX_FOREACH_ITEMS": str(max(DEFAULT_MAX_FOREACH_ITEMS, rows)),
        "FLOWJOBS_MAX_OUTPUT_BYTES": str(
            max(DEFAULT_MAX_OUTPUT_BYTES, rows * OUTPUT_BYTES_PER_ROW)
        ),
        "FLOWJOBS_LOG_LEVEL": "WARNING",
    }
    return env


def cli(env: dict[str, str], *args: str) -> Any:
    """One ``flowjobs`` command to completion; its stdout as JSON when it is."""
    done = subprocess.run(
        [sys.executable, "-m", "flowjobs", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"flowjobs {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        return done.stdout


def prepare(env: dict[str, str]) -> str:
    """Schema, space, Solver key and the published flow; returns the key."""
    cli(env, "init")
    cli(env, "space", "create", "bench", "--parallel-limit", "4", "--json")
    key: str = cli(env, "key", "create", "--space", "bench", "--json")["key"]
    cli(env, "rule", "push", str(FLOW), "--space", "bench", "--publish", "--json")
    return key


@contextmanager
def serving(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """``flowjobs serve`` on a free port until the block ends; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "flowjobs", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(base, server, log_path)
        yield base
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)


def wait_healthy(base: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=base, timeout=2) as client:
        for _ in range(300):
            if server.poll() is not None:
                break
            try:
                if client.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise BenchError(f"the server did not become healthy on {base}:\n{tail}")


# --- one measurement ----------------------------------------------------------------------


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run_job(client: httpx.Client, batch: int, deadline: float) -> tuple[dict[str, Any], float]:
    """Starts credit-tiers over ``batch`` untiered rows; returns the ended job and the
    wall seconds. The worker runs in the server's event loop and a long foreach does
    not yield, so a GET may hang until the job ends: a GET that times out is retried
    (until ``deadline``, a ``time.perf_counter()`` value)."""
    sent = time.perf_counter()
    started = client.post("/job/start/credit-tiers", json={"batchSize": batch}, timeout=60)
    if started.status_code != 200:
        raise BenchError(f"start answered {started.status_code}: {started.text[:500]}")
    job_id = started.json()["jobId"]
    job: dict[str, Any] = started.json()
    for _ in range(MAX_POLLS):
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        try:
            answer = client.get(f"/job/{job_id}", timeout=max(1.0, min(remaining, 60)))
        except httpx.TimeoutException:
            continue  # the server is busy running the flow; ask again
        if answer.status_code != 200:
            raise BenchError(f"GET /job/{job_id} answered {answer.status_code}")
        job = answer.json()
        if job["status"]["state"] in FINAL_STATES:
            return job, time.perf_counter() - sent
        time.sleep(POLL_SECONDS)
    raise BenchError(
        f"job {job_id} did not end in time; last seen {job['status']['state']}, "
        f"progress {job.get('progress')}"
    )


def run_all(
    client: httpx.Client, crm: Crm, rows: int, batch: int, timeout: float
) -> tuple[float, float]:
    """Jobs of ``batch`` rows, one after the other, until every row has a tier;
    returns the sum of ``endedAt - claimedAt`` and the wall seconds."""
    deadline = time.perf_counter() + timeout
    server = wall = 0.0
    jobs = -(-rows // batch)
    for index in range(jobs):
        job, seconds = run_job(client, batch, deadline)
        expected = min(batch, rows - index * batch)
        check(job, expected)
        server += ts(job["endedAt"]) - ts(job["claimedAt"])
        wall += seconds
    tiers = crm.tiers()
    if tiers.get(None) or sum(tiers.values()) != rows:
        raise BenchError(f"not every row got a tier: {tiers}")
    if set(tiers) != {"A", "B", "C", "D"}:
        raise BenchError(f"expected all four tiers, found {tiers}")
    return server, wall


def check(job: dict[str, Any], rows: int) -> None:
    state = job["status"]["state"]
    if state != "COMPLETED":
        raise BenchError(
            f"job {job['jobId']} ended {state}: "
            f"{json.dumps(job['status'])} {json.dumps(job.get('error'))[:1000]}"
        )
    [output] = job["output"]
    if output["decided"] != rows or output["updated"] != rows:
        raise BenchError(
            f"decided {output['decided']}, updated {output['updated']}, expected {rows}"
        )


def measure(name: str, rows: int, batch: int, repeat: int, timeout: float) -> Result:
    result = Result(name, rows, batch)
    with (
        tempfile.TemporaryDirectory(prefix="flowjobs-bench-") as tmp_dir,
        backend(name, Path(tmp_dir), rows) as (jobs_url, crm),
    ):
        tmp = Path(tmp_dir)
        env = server_env(jobs_url, crm.url, rows)
        key = prepare(env)
        with (
            serving(env, tmp / "server.log") as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as client,
        ):
            for run in range(1, repeat + 1):
                crm.reset()
                seconds, wall = run_all(client, crm, rows, batch, timeout)
                result.rates.append(rows / seconds)
                result.server_seconds.append(seconds)
                result.wall_seconds.append(wall)
                print(
                    f"  {name} run {run}/{repeat}: {seconds:.2f} s in the worker, "
                    f"{wall:.2f} s wall, {rows / seconds:,.0f} rows/s",
                    file=sys.stderr,
                    flush=True,
                )
    return result


# --- report -------------------------------------------------------------------------------


def report(results: list[Result], repeat: int) -> None:
    print(
        f"\ncredit-tiers end to end, {repeat} run(s) each, {os.cpu_count()} cores; "
        "rows/s = rows / (endedAt - claimedAt), wall = start call to end seen"
    )
    print(
        f"| {'backend':10} | {'rows':>7} | {'rows/job':>8} | {'median rows/s':>13} | "
        f"{'min rows/s':>10} | {'max rows/s':>10} | {'median s':>8} | {'median wall s':>13} |"
    )
    print(
        f"|{'-' * 12}|{'-' * 9}|{'-' * 10}|{'-' * 15}|{'-' * 12}|{'-' * 12}|{'-' * 10}|{'-' * 15}|"
    )
    for r in results:
        print(
            f"| {r.backend:10} | {r.rows:>7} | {r.batch:>8} | "
            f"{statistics.median(r.rates):>13,.0f} | {min(r.rates):>10,.0f} | "
            f"{max(r.rates):>10,.0f} | {statistics.median(r.server_seconds):>8.2f} | "
            f"{statistics.median(r.wall_seconds):>13.2f} |"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="customers (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per backend (default 3)")
    parser.add_argument(
        "--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="rows per job (default: all rows in one job); smaller runs several jobs",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="longest one run may take (seconds)"
    )
    args = parser.parse_args()
    if args.batch_size is None:
        args.batch_size = args.rows
    if min(args.rows, args.repeat, args.batch_size) < 1 or args.timeout <= 0:
        parser.error("--rows, --repeat, --batch-size must be at least 1, --timeout positive")
    names = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(names) - {"sqlite", "postgresql"}
    if not names or unknown:
        parser.error(f"--backends: unknown {sorted(unknown)}" if unknown else "--backends: none")
    args.backends = names
    return args


def main() -> None:
    args = parse_args()
    results = []
    for name in args.backends:
        if name == "postgresql" and (why := postgres_reachable()) is not None:
            print(f"skipping postgresql: {PG_ADMIN} unreachable ({why})", file=sys.stderr)
            continue
        results.append(measure(name, args.rows, args.batch_size, args.repeat, args.timeout))
    if results:
        report(results, args.repeat)
    else:
        sys.exit("no backend was measured")


if __name__ == "__main__":
    main()
