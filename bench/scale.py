"""Scale-out on PostgreSQL: jobs per second end to end with 1, 2 and 3 worker
processes, dispatch latency (start to RUNNING, woken by LISTEN/NOTIFY) and
cancel latency, with the API in its own process (``serve --no-worker``).

Usage: ``python bench/scale.py [--jobs 2000] [--workers 1,2,3]`` (``make bench-scale``).
Figures come from the jobs' own timestamps (createdAt, claimedAt, endedAt),
read from the database, so client-side polling does not blur them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import ExitStack
from typing import Any

import httpx
import psycopg
from harness import (
    api_server,
    flowjobs_process,
    poll,
    postgres_database,
    postgres_reachable,
    prepare_space,
    print_table,
    summary_ms,
)

NOOP = {"name": "noop", "alias": "noop", "nodes": [{"id": "done", "type": "end"}]}
SLEEPER = {
    "name": "sleeper",
    "alias": "sleeper",
    "nodes": [{"id": "nap", "type": "wait", "seconds": 60}],
}
WORKER_ENV = {"FLOWJOBS_CONCURRENCY": "16"}


async def start_many(base: str, secret: str, count: int, connections: int) -> int:
    """Start ``count`` no-op jobs over ``connections`` concurrent connections."""
    headers = {"Authorization": f"Bearer {secret}"}
    limits = httpx.Limits(max_connections=connections)
    started = 0
    queue = iter(range(count))
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=30
    ) as client:

        async def pump() -> None:
            nonlocal started
            for _ in queue:
                response = await client.post("/job/start/noop", json={})
                started += response.status_code == 200

        await asyncio.gather(*(pump() for _ in range(connections)))
    return started


def wait_all_done(dsn: str, count: int, timeout: float) -> tuple[float, float]:
    """Seconds from the first start to the last end, once all jobs ended."""
    deadline = time.monotonic() + timeout
    query = (
        "SELECT count(*) FILTER (WHERE state = 'COMPLETED'), "
        "extract(epoch FROM max(ended_at) - min(created_at)) FROM jobs"
    )
    with psycopg.connect(dsn) as conn:
        while time.monotonic() < deadline:
            done, span = conn.execute(query).fetchone()  # type: ignore[misc]
            if done >= count:
                return float(span), float(done)
            time.sleep(0.2)
    raise RuntimeError(f"not all {count} jobs completed within {timeout} s")


def throughput(jobs: int, workers: int) -> list[Any]:
    with postgres_database() as url, ExitStack() as stack:
        secret = prepare_space(url, [NOOP])
        base = stack.enter_context(api_server(url, worker=False))
        for _ in range(workers):
            stack.enter_context(flowjobs_process(url, "worker", env=WORKER_ENV))
        wall = time.monotonic()
        started = asyncio.run(start_many(base, secret, jobs, connections=32))
        span, _ = wait_all_done(url, started, timeout=600)
        wall = time.monotonic() - wall
        return [f"{workers} worker(s)", started, started / span, wall]


def latencies(runs: int) -> tuple[list[float], list[float], list[float]]:
    """Dispatch (claimedAt - createdAt) of single no-op jobs 20 ms apart, and
    cancel of running sleepers (client sees CANCELED; endedAt - cancel sent)."""
    with postgres_database() as url, ExitStack() as stack:
        secret = prepare_space(url, [NOOP, SLEEPER])
        base = stack.enter_context(api_server(url, worker=False))
        stack.enter_context(flowjobs_process(url, "worker", env=WORKER_ENV))
        client = stack.enter_context(
            httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        )
        time.sleep(2)  # the worker is up and listening
        for _ in range(runs):
            client.post("/job/start/noop", json={})
            time.sleep(0.02)
        wait_all_done(url, runs, timeout=120)
        with psycopg.connect(url) as conn:
            dispatch = [
                float(r[0])
                for r in conn.execute(
                    "SELECT extract(epoch FROM claimed_at - created_at) FROM jobs"
                )
            ]
        seen, ended = cancels(client, url, max(5, runs // 4))
        return dispatch, seen, ended


def cancels(client: httpx.Client, dsn: str, runs: int) -> tuple[list[float], list[float]]:
    seen: list[float] = []
    ended: list[float] = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(runs):
            job_id = client.post("/job/start/sleeper", json={}).json()["jobId"]
            poll(client, job_id, "RUNNING")
            sent_wall, sent = time.time(), time.perf_counter()
            client.post(f"/job/cancel/{job_id}")
            seen.append(poll(client, job_id, "CANCELED") - sent)
            row = conn.execute(
                "SELECT extract(epoch FROM ended_at) FROM jobs WHERE id = %s", (job_id,)
            ).fetchone()
            assert row is not None
            ended.append(float(row[0]) - sent_wall)
    return seen, ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--latency-runs", type=int, default=100)
    args = parser.parse_args()
    if not postgres_reachable():
        raise SystemExit("PostgreSQL is not reachable on 127.0.0.1:5432")
    rows = [throughput(args.jobs, int(n)) for n in args.workers.split(",")]
    print_table(
        f"End to end on PostgreSQL: {args.jobs} no-op jobs started over HTTP "
        "(32 connections) into serve --no-worker, workers with --concurrency 16",
        ["workers", "jobs", "jobs/s (first start to last end)", "wall s"],
        rows,
    )
    dispatch, seen, ended = latencies(args.latency_runs)
    print_table(
        "Latency on PostgreSQL (API and one worker in separate processes, NOTIFY)",
        ["metric", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [
            ["dispatch: claimedAt - createdAt", *summary_ms(dispatch)],
            ["cancel: client sees CANCELED", *summary_ms(seen)],
            ["cancel: endedAt - cancel sent", *summary_ms(ended)],
        ],
    )


if __name__ == "__main__":
    main()
