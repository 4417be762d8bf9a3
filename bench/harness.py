"""Shared pieces of the benchmarks: databases, processes, a space to bench in,
and the result table. Everything runs on 127.0.0.1 and cleans up after itself."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import KeyKind
from flowjobs.store import SqlStore, upgrade

PG_ADMIN = os.environ.get("FLOWJOBS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    import psycopg

    name = f"flowjobs_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")  # type: ignore[arg-type]


def postgres_reachable() -> bool:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.Error:
        return False
    return True


async def _prepare(url: str, flows: list[dict[str, Any]], parallel_limit: int) -> str:
    upgrade(url)
    store = SqlStore(url, pool_size=2)
    try:
        catalog = Catalog(store, Settings(database_url=url))
        space = await catalog.create_space(
            f"bench-{uuid.uuid4().hex[:6]}", parallel_limit=parallel_limit
        )
        key = await catalog.create_key(space.id, KeyKind.SOLVER, "bench")
        for flow in flows:
            await catalog.push_rule(space.id, flow, publish=True)
        return key.secret
    finally:
        await store.close()


def prepare_space(url: str, flows: list[dict[str, Any]], parallel_limit: int = 1000) -> str:
    """Migrate, create a space with the flows published; the Solver key."""
    return asyncio.run(_prepare(url, flows, parallel_limit))


@contextmanager
def flowjobs_process(
    url: str, *args: str, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``flowjobs <args>`` in the background, stopped with SIGTERM afterwards."""
    full_env = (
        dict(os.environ)
        | {"FLOWJOBS_DATABASE_URL": url, "FLOWJOBS_LOG_LEVEL": "WARNING"}
        | dict(env or {})
    )
    process = subprocess.Popen([sys.executable, "-m", "flowjobs", *args], env=full_env)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def api_server(url: str, *, worker: bool, env: Mapping[str, str] | None = None) -> Iterator[str]:
    """``flowjobs serve`` on a free port; yields its base URL once healthy."""
    port = free_port()
    args = ["serve", "--port", str(port)] + ([] if worker else ["--no-worker"])
    with flowjobs_process(url, *args, env=env):
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the server did not start")
        yield base


def poll(
    client: httpx.Client, job_id: str, state: str, timeout: float = 30, interval: float = 0.005
) -> float:
    """``time.perf_counter()`` at the first GET that shows the job in ``state``."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if client.get(f"/job/{job_id}").json()["status"]["state"] == state:
            return time.perf_counter()
        time.sleep(interval)
    raise RuntimeError(f"job {job_id} did not reach {state}")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def print_table(title: str, header: list[str], rows: list[list[Any]]) -> None:
    print(f"\n{title}")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        cells = [f"{c:.1f}" if isinstance(c, float) else str(c) for c in row]
        print("| " + " | ".join(cells) + " |")


def summary_ms(values: list[float]) -> list[float]:
    """p50, p95, p99 and max of a list of seconds, in milliseconds."""
    ms = [v * 1000 for v in values]
    return [statistics.median(ms), percentile(ms, 0.95), percentile(ms, 0.99), max(ms)]
