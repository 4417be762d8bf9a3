"""Code-first flows for the PostgreSQL scale tests (``handler: support.counter_handlers:...``).

``count`` proves that a job ran exactly once: it increments a row keyed by its
jobId in a ``counter`` table of the test's own database (DSN in the input).
``tracked_async`` is an asynchronous ``tracked`` (see handlers.py): it does not
occupy one of the worker's few threads while it sleeps, so a worker holding
many jobs really runs them all at once.
"""

from __future__ import annotations

import asyncio
import fcntl
import threading
from pathlib import Path
from typing import Any

import psycopg

COUNTER_TABLE = "CREATE TABLE IF NOT EXISTS counter (job_id text PRIMARY KEY, n integer NOT NULL)"
_UPSERT = (
    "INSERT INTO counter (job_id, n) VALUES (%s, 1) "
    "ON CONFLICT (job_id) DO UPDATE SET n = counter.n + 1"
)
_local = threading.local()  # one connection per handler thread (and DSN)


def _connection(dsn: str) -> psycopg.Connection[Any]:
    connections: dict[str, psycopg.Connection[Any]] = _local.__dict__.setdefault("by_dsn", {})
    conn = connections.get(dsn)
    if conn is None or conn.closed:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        connections[dsn] = conn
    return conn


def count(ctx: Any) -> dict[str, Any]:
    """Runs in a worker thread: one upsert, on a per-thread connection."""
    dsn = ctx.input["dsn"]
    job_id = ctx.job.job_id
    try:
        _connection(dsn).execute(_UPSERT, (job_id,))
    except psycopg.OperationalError:  # a stale cached connection: once more, fresh
        _local.by_dsn.pop(dsn, None)
        _connection(dsn).execute(_UPSERT, (job_id,))
    return {"counted": job_id}


def _bump(path: Path, delta: int) -> int:
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        lines = handle.read().split()
        current = int(lines[-1]) if lines else 0
        handle.write(f"{current + delta}\n")
        return current + delta


async def tracked_async(ctx: Any) -> dict[str, int]:
    """Count the jobs running at once in a file shared by every worker process."""
    path = Path(ctx.input["counter"])
    now = _bump(path, +1)
    try:
        await asyncio.sleep(float(ctx.input.get("seconds", 0.2)))
    finally:
        _bump(path, -1)
    return {"concurrent": now}


async def slow_first_time(ctx: Any) -> dict[str, int]:
    """The first run (no marker file yet) creates the marker and waits a minute;
    any later run returns at once: a re-queued job then completes quickly."""
    marker = Path(ctx.input["marker"])
    try:
        with marker.open("x") as handle:
            handle.write(ctx.job.job_id)
    except FileExistsError:
        return {"run": 2}
    await asyncio.sleep(60)
    return {"run": 1}
