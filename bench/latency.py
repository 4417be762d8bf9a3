"""Start-to-running and cancel-to-canceled latency on the embedded SQLite setup.

Runs ``flowjobs serve`` (API and worker in one process, SQLite in WAL mode) on
127.0.0.1, then, one job at a time:

* start latency: ``POST /job/start`` of a flow whose first node waits; the
  server's own ``claimedAt - createdAt`` (both stamped by the server), and the
  time from the start call returning until a client polling every 2 ms sees
  RUNNING;
* cancel latency: ``POST /job/cancel`` of that running job, then the time until
  the client sees CANCELED (polling every 2 ms), and ``endedAt`` minus the
  moment the cancel call was sent.

Client-side figures include the polling GETs themselves (a few ms each).

Usage: ``python bench/latency.py [--runs N]`` (``make latency``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import KeyKind
from flowjobs.store import SqlStore, upgrade

FLOW = {
    "name": "Bench sleeper",
    "alias": "bench-sleeper",
    "nodes": [
        {"id": "nap", "type": "wait", "seconds": 30},
        {"id": "done", "type": "end", "output": "input"},
    ],
}


async def prepare(url: str) -> str:
    upgrade(url)
    store = SqlStore(url)
    catalog = Catalog(store, Settings(database_url=url))
    space = await catalog.create_space("bench", parallel_limit=100)
    key = await catalog.create_key(space.id, KeyKind.SOLVER, "bench")
    await catalog.push_rule(space.id, FLOW, publish=True)
    await store.close()
    return key.secret


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_state(client: httpx.Client, job_id: str, state: str, timeout: float = 10) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if client.get(f"/job/{job_id}").json()["status"]["state"] == state:
            return time.perf_counter()
        time.sleep(0.002)
    raise RuntimeError(f"job {job_id} did not reach {state}")


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def measure(client: httpx.Client, runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "start: server claimedAt - createdAt",
            "start: client sees RUNNING",
            "cancel: client sees CANCELED",
            "cancel: server endedAt - cancel sent",
        )
    }
    for _ in range(runs):
        started = client.post("/job/start/bench-sleeper", json={})
        returned = time.perf_counter()
        job_id = started.json()["jobId"]
        seen = wait_state(client, job_id, "RUNNING")
        job = client.get(f"/job/{job_id}").json()
        results["start: server claimedAt - createdAt"].append(
            ts(job["claimedAt"]) - ts(job["createdAt"])
        )
        results["start: client sees RUNNING"].append(seen - returned)
        time.sleep(0.02)  # the first node is running now
        cancel_wall = time.time()
        client.post(f"/job/cancel/{job_id}")
        cancel_returned = time.perf_counter()
        canceled = wait_state(client, job_id, "CANCELED")
        ended = client.get(f"/job/{job_id}").json()["endedAt"]
        results["cancel: client sees CANCELED"].append(canceled - cancel_returned)
        results["cancel: server endedAt - cancel sent"].append(ts(ended) - cancel_wall)
    return results


def report(results: dict[str, list[float]], runs: int) -> None:
    print(f"\nflowjobs latency, embedded SQLite, {runs} sequential jobs, {os.cpu_count()} cores")
    print(f"| {'metric':42} | {'p50 ms':>8} | {'p95 ms':>8} | {'max ms':>8} |")
    print(f"|{'-' * 44}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, values in results.items():
        ms = sorted(v * 1000 for v in values)
        p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
        print(f"| {name:42} | {statistics.median(ms):8.1f} | {p95:8.1f} | {ms[-1]:8.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'latency.db'}"
        secret = asyncio.run(prepare(url))
        port = free_port()
        env = os.environ | {"FLOWJOBS_DATABASE_URL": url, "FLOWJOBS_LOG_LEVEL": "WARNING"}
        server = subprocess.Popen(
            [sys.executable, "-m", "flowjobs", "serve", "--port", str(port)], env=env
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=10
            ) as client:
                for _ in range(100):
                    try:
                        client.get("/health")
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                report(measure(client, args.runs), args.runs)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
