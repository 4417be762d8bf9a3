"""Measure (and optionally profile) the hot paths one at a time, on PostgreSQL
or SQLite: HTTP starts, ``GET /job/{id}``, worker processing of no-op jobs,
``cancelAll`` of many waiting jobs.

Usage::

    python bench/profile_paths.py start --db pg --requests 3000      # over HTTP
    python bench/profile_paths.py start --db pg --in-process --profile
    python bench/profile_paths.py get --db pg --rows 1000000
    python bench/profile_paths.py process --jobs 5000
    python bench/profile_paths.py cancel-all --jobs 100000
    python bench/profile_paths.py claim-cancel --db pg --jobs 300   # claim, cancel, GET

``--in-process`` drives the app through httpx's ASGI transport (no sockets),
which is what ``--profile`` (pyinstrument) looks at; otherwise the server runs
as ``flowjobs serve --no-worker`` and is driven over 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
from explain import uuid7_sql
from harness import (
    api_server,
    flowjobs_process,
    postgres_database,
    prepare_space,
    print_table,
    sqlite_database,
    summary_ms,
)

NOOP = {"name": "noop", "alias": "noop", "nodes": [{"id": "done", "type": "end"}]}
LOG = {"FLOWJOBS_LOG_LEVEL": "WARNING"}


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    with postgres_database() if kind == "pg" else sqlite_database() as url:
        yield url


@contextlib.contextmanager
def profiled(enabled: bool, name: str) -> Iterator[None]:
    if not enabled:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled", interval=0.0005)
    profiler.start()
    try:
        yield
    finally:
        profiler.stop()
        path = f"/tmp/profile-{name}.txt"
        with open(path, "w") as out:
            out.write(profiler.output_text(unicode=False, color=False, show_all=False))
        print(f"profile written to {path}")


async def _pump(client: httpx.AsyncClient, count: int, connections: int, path: str) -> list[float]:
    """``count`` requests over ``connections`` concurrent clients; each one's seconds."""
    remaining = iter(range(count))
    took: list[float] = []

    async def one_connection() -> None:
        for _ in remaining:
            began = time.perf_counter()
            response = await (
                client.post(path, json={}) if path.startswith("/job/start") else client.get(path)
            )
            took.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return took


def children_cpu() -> float:
    """CPU seconds (user + system) used so far by this script's child processes
    and theirs (the server): a figure that the other loads of a shared
    machine do not distort, unlike requests per second."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents = {os.getpid()}
    total = 0.0
    stats = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats.append((int(entry), int(fields[1]), int(fields[11]) + int(fields[12])))
    for _ in range(3):  # children, grandchildren, great-grandchildren
        found = {pid for pid, ppid, _ in stats if ppid in parents}
        parents |= found
    for pid, _, used in stats:
        if pid in parents and pid != os.getpid():
            total += used / ticks
    return total


def _spy_on_server(seconds: int = 10) -> None:
    """With PROFILE_PYSPY=<file>: py-spy's raw samples of the API process
    (this script's child) for ``seconds``, while the measurement runs."""
    out = os.environ.get("PROFILE_PYSPY")
    if not out:
        return
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == os.getpid():
                children.append(entry)
    for pid in children:
        spy = [".venv/bin/py-spy", "record", "-p", pid, "-o", f"{out}.{pid}", "-f", "raw"]
        subprocess.Popen([*spy, "-d", str(seconds), "-r", "200"])


def _client(base: str, secret: str, transport: Any = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {secret}"},
        limits=httpx.Limits(max_connections=64, keepalive_expiry=1.0),  # < uvicorn's 5 s
        timeout=30,
        transport=transport,
    )


async def _in_process(url: str, secret: str, count: int, path: str, profile: bool) -> list[float]:
    from flowjobs.api.app import create_app
    from flowjobs.config import Settings

    app = create_app(Settings(database_url=url, log_level="WARNING"), run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with _client("http://bench", secret, transport) as client:
            await _pump(client, 50, 1, path)  # warm caches
            with profiled(profile, path.strip("/").replace("/", "-")[:30]):
                began = time.perf_counter()
                took = await _pump(client, count, 8, path)
                wall = time.perf_counter() - began
    print(f"in-process {path}: {count / wall:.0f} requests/s")
    return took


def _over_http(
    url: str, secret: str, count: int, path: str, processes: int, connections: int
) -> tuple[float, list[float]]:
    env = LOG | {"FLOWJOBS_API_WORKERS": str(processes)} if processes > 1 else LOG
    with api_server(url, worker=False, env=env) as base:

        async def run() -> tuple[float, list[float]]:
            async with _client(base, secret) as client:
                await _pump(client, 200, connections, path)  # warm every process
                _spy_on_server()
                began, cpu = time.perf_counter(), children_cpu()
                took = await _pump(client, count, connections, path)
                cpu_ms = (children_cpu() - cpu) * 1000 / count
                print(f"server CPU per request: {cpu_ms:.2f} ms ({1000 / cpu_ms:.0f}/s per core)")
                return count / (time.perf_counter() - began), took

        return asyncio.run(run())


def _over_loadgen(url: str, secret: str, count: int, path: str, connections: int) -> float:
    """The bench's own client (bench/loadgen.py: uvloop + httptools, 32
    keep-alive connections) instead of httpx, which on this machine is
    slower than the server; requests/s, and the server's CPU per request."""
    import loadgen

    with api_server(url, worker=False, env=LOG) as base:
        port = int(base.rsplit(":", 1)[1])
        request = loadgen.Request(port, path, token=secret)
        loadgen.run(request, 500, connections)  # warm up
        _spy_on_server()
        cpu = children_cpu()
        load = loadgen.run(request, count, connections)
        cpu_ms = (children_cpu() - cpu) * 1000 / count
        print(f"server CPU per request: {cpu_ms:.2f} ms ({1000 / cpu_ms:.0f}/s per core)")
        print(f"statuses: {load.statuses}")
        return load.rate


def start(args: argparse.Namespace) -> None:
    with database(args.db) as url:
        secret = prepare_space(url, [NOOP])
        if args.loadgen:
            rate = _over_loadgen(url, secret, args.requests, "/job/start/noop", args.connections)
            print(f"POST /job/start on {args.db}, {args.requests} requests (loadgen): {rate:.0f}/s")
            return
        if args.in_process:
            took = asyncio.run(
                _in_process(url, secret, args.requests, "/job/start/noop", args.profile)
            )
            rate = len(took) / sum(took) * 8
        else:
            rate, took = _over_http(
                url, secret, args.requests, "/job/start/noop", args.processes, args.connections
            )
    print_table(
        f"POST /job/start on {args.db}, {args.requests} requests, "
        f"{'in process' if args.in_process else f'{args.processes} API process(es), HTTP'}",
        ["requests/s", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [[rate, *summary_ms(took)]],
    )


# Rows as the API creates them: the job id a version 7 UUID of created_at
# (flowjobs.ids), so ids follow created_at (g = 1 is the newest job), and
# inserted oldest first, so the primary key grows at its right edge.
_FILL_JOBS = """
    INSERT INTO jobs (id, space_id, base_id, version, rule_type, correlation_id, input,
      state, code, message, priority, parallel_limit, environment_group, api_key_id,
      api_key_name, execution_limit_s, retry_on_loss, created_at, updated_at, attempts)
    SELECT {job_id}, %s, %s, 1, 'IntegrationFlow',
      gen_random_uuid()::text, '{}'::json, %s,
      CASE WHEN %s = 'WAITING' THEN 'JOB_INITIALIZED' ELSE 'JOB_SUCCESS' END,
      '', 5, 1000, 'default', %s,
      'bench', 3600, 0, now() - (g || ' ms')::interval, now(), 0
    FROM generate_series(1, %s) g
    ORDER BY g DESC
""".replace("{job_id}", uuid7_sql("now() - (g || ' ms')::interval", "'j' || g"))


def _fill_jobs(url: str, count: int, state: str = "COMPLETED") -> str:
    """``count`` jobs of the space's noop rule in ``state`` by plain SQL; one job id."""
    with psycopg.connect(url) as conn:
        space_id, base_id, key_id = conn.execute(
            "SELECT r.space_id, r.base_id, k.id FROM rules r JOIN api_keys k "
            "ON k.space_id = r.space_id LIMIT 1"
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            _FILL_JOBS,
            (space_id, base_id, state, state, key_id, count),
        )
        conn.execute("ANALYZE jobs")
        row = conn.execute("SELECT id FROM jobs OFFSET %s LIMIT 1", (count // 2,)).fetchone()
        assert row is not None
        return str(row[0])


def get(args: argparse.Namespace) -> None:
    with postgres_database() as url:
        secret = prepare_space(url, [NOOP])
        job_id = _fill_jobs(url, args.rows)
        path = f"/job/{job_id}"
        if args.in_process:
            took = asyncio.run(_in_process(url, secret, args.requests, path, args.profile))
            rate = 0.0
        else:
            # One connection: the latency of one request, not of a queue of them.
            rate, took = _over_http(url, secret, args.requests, path, 1, 1)
    print_table(
        f"GET /job/{{id}} on PostgreSQL with {args.rows} rows, one connection",
        ["requests/s", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [[rate, *summary_ms(took)]],
    )


def _wait_done(url: str, count: int, timeout: float) -> float:
    """Seconds from the first claim to the last end, once every job ended."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url) as conn:
        while time.monotonic() < deadline:
            done, span = conn.execute(
                "SELECT count(*) FILTER (WHERE state = 'COMPLETED'), "
                "extract(epoch FROM max(ended_at) - min(claimed_at)) FROM jobs"
            ).fetchone()  # type: ignore[misc]
            if done >= count:
                return float(span)
            time.sleep(0.2)
    raise RuntimeError(f"not all {count} jobs completed within {timeout} s")


def _wait_started(url: str, timeout: float) -> int:
    """Once the worker has claimed a job: the jobs completed by then."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            claimed, done = conn.execute(
                "SELECT count(*) FILTER (WHERE state <> 'WAITING'), "
                "count(*) FILTER (WHERE state = 'COMPLETED') FROM jobs"
            ).fetchone()  # type: ignore[misc]
            if claimed:
                return int(done)
            time.sleep(0.01)
    raise RuntimeError(f"no job claimed within {timeout} s")


def process(args: argparse.Namespace) -> None:
    """Jobs queued beforehand (by SQL), then ``--workers`` worker processes
    started: their jobs/s, their CPU and PostgreSQL's per job."""
    with postgres_database() as url:
        prepare_space(url, [NOOP], parallel_limit=1000)
        _fill_jobs(url, args.jobs, state="WAITING")
        env = LOG | {"FLOWJOBS_CONCURRENCY": str(args.concurrency)}
        pyspy = os.environ.get("PROFILE_PYSPY")  # a file for py-spy's raw output
        with contextlib.ExitStack() as stack:
            workers = [
                stack.enter_context(flowjobs_process(url, "worker", env=env))
                for _ in range(args.workers)
            ]
            if pyspy:  # the first worker
                spy = [".venv/bin/py-spy", "record", "-p", str(workers[0].pid), "-o", pyspy]
                subprocess.Popen([*spy, "-f", "raw", "-d", "10", "-r", "200"])
            done_before = _wait_started(url, timeout=60)  # start-up excluded, as in the rate
            began = sum(process_cpu(w.pid) for w in workers)
            db_began = database_cpu(url)
            span = _wait_done(url, args.jobs, timeout=600)
            used = sum(process_cpu(w.pid) for w in workers) - began
            backend_used = database_cpu(url) - db_began
        measured = max(args.jobs - done_before, 1)
        row = [args.jobs, args.workers, args.concurrency, args.jobs / span, span]
        row += [f"{used / measured * 1000:.2f}", f"{backend_used / measured * 1000:.2f}"]
    print_table(
        "Worker processes on PostgreSQL, no-op jobs queued beforehand",
        [
            "jobs",
            "workers",
            "concurrency",
            "jobs/s (first claim to last end)",
            "s",
            "workers CPU ms/job",
            "PostgreSQL backends CPU ms/job",
        ],
        [row],
    )


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) one process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cancel_all(args: argparse.Namespace) -> None:
    with postgres_database() as url:
        secret = prepare_space(url, [NOOP])
        _fill_jobs(url, args.jobs, state="WAITING")
        with api_server(url, worker=False, env=LOG) as base:
            client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"})
            with psycopg.connect(url) as conn:
                space_id = conn.execute("SELECT id FROM spaces LIMIT 1").fetchone()[0]  # type: ignore[index]
            client.get("/job", params={"limit": 1}).raise_for_status()  # pool warm
            began, server_cpu, db_cpu = time.perf_counter(), children_cpu(), database_cpu(url)
            response = client.post(f"/job/cancelAll/space/{space_id}", timeout=120)
            took = time.perf_counter() - began
            server_cpu, db_cpu = children_cpu() - server_cpu, database_cpu(url) - db_cpu
            print(response.status_code, response.text[:200])
    print_table(
        f"cancelAll of {args.jobs} waiting jobs on PostgreSQL (no webhook)",
        ["jobs", "seconds", "server CPU s", "PostgreSQL CPU s"],
        [[args.jobs, took, server_cpu, db_cpu]],
    )


def database_cpu(url: str) -> float:
    """CPU seconds used so far by the PostgreSQL backends connected to the
    database of ``url`` (this machine's server, read from /proc), the figure a
    loaded machine distorts least. Backends that exit meanwhile are missed."""
    ticks = os.sysconf("SC_CLK_TCK")
    with psycopg.connect(url, autocommit=True) as conn:
        pids = [
            r[0]
            for r in conn.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        ]
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


async def _claim_and_cancel(url: str, rounds: int) -> dict[str, list[float]]:
    """Per round, in process and one at a time: start a job, claim it (as a
    worker would, up to 16), claim again (nothing left: what the other
    worker's claim costs), cancel it while it runs, read it."""
    from flowjobs.catalog import Catalog
    from flowjobs.config import Settings
    from flowjobs.domain import JobEnding, KeyKind
    from flowjobs.events import LocalEvents
    from flowjobs.manager import JobManager
    from flowjobs.store import SqlStore

    store = SqlStore(url)
    settings = Settings(database_url=url, log_level="WARNING")
    manager = JobManager(store, settings, LocalEvents())
    catalog = Catalog(store, settings)
    space = await catalog.create_space("claims", parallel_limit=10_000)
    key = (await catalog.create_key(space.id, KeyKind.SOLVER, "bench")).key
    waiter = {"name": "w", "alias": "w", "nodes": [{"id": "nap", "type": "wait", "seconds": 600}]}
    await catalog.push_rule(space.id, waiter, publish=True)
    took: dict[str, list[float]] = {"claim": [], "empty claim": [], "cancel": [], "get": []}
    cpu = {"claim": 0.0, "cancel": 0.0}
    try:
        for _ in range(rounds):
            job = await manager.start(key, "w", None, {})
            for name, call in (
                ("claim", lambda: manager.claim("w1", 16)),
                ("empty claim", lambda: manager.claim("w2", 16)),
                ("cancel", lambda j=job.id: manager.cancel(key, j)),
                ("get", lambda j=job.id: manager.info(key, j)),
            ):
                began, cpu_began = time.perf_counter(), time.process_time()
                await call()
                took[name].append(time.perf_counter() - began)
                if name in cpu:
                    cpu[name] += time.process_time() - cpu_began
            await manager.end_jobs([JobEnding(job.id, "w1", None)])  # the worker stopped it
    finally:
        await store.close()
    for name, used in cpu.items():
        print(f"client CPU per {name}: {used / rounds * 1000:.2f} ms")
    return took


def claim_cancel(args: argparse.Namespace) -> None:
    with database(args.db) as url:
        if args.db == "sqlite":
            from flowjobs.store import upgrade

            upgrade(url)
        else:
            prepare_space(url, [NOOP])  # migrates
        took = asyncio.run(_claim_and_cancel(url, args.jobs))
    print_table(
        f"claim and cancel, {args.jobs} rounds, one at a time, in process ({args.db})",
        ["call", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [[name, *summary_ms(values)] for name, values in took.items()],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", choices=["start", "get", "process", "cancel-all", "claim-cancel"])
    parser.add_argument("--db", choices=["pg", "sqlite"], default="pg")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="process: worker processes")
    parser.add_argument("--in-process", action="store_true")
    parser.add_argument("--loadgen", action="store_true", help="start: the bench's HTTP client")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    {
        "start": start,
        "get": get,
        "process": process,
        "cancel-all": cancel_all,
        "claim-cancel": claim_cancel,
    }[args.path](args)


if __name__ == "__main__":
    main()
