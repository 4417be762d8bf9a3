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
import os
import time

import httpx
from harness import api_server, poll, prepare_space, print_table, sqlite_database, summary_ms
from harness import timestamp as ts

FLOW = {
    "name": "Bench sleeper",
    "alias": "bench-sleeper",
    "nodes": [
        {"id": "nap", "type": "wait", "seconds": 30},
        {"id": "done", "type": "end", "output": "input"},
    ],
}


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
        seen = poll(client, job_id, "RUNNING", interval=0.002)
        job = client.get(f"/job/{job_id}").json()
        results["start: server claimedAt - createdAt"].append(
            ts(job["claimedAt"]) - ts(job["createdAt"])
        )
        results["start: client sees RUNNING"].append(seen - returned)
        time.sleep(0.02)  # the first node is running now
        cancel_wall = time.time()
        client.post(f"/job/cancel/{job_id}")
        cancel_returned = time.perf_counter()
        canceled = poll(client, job_id, "CANCELED", interval=0.002)
        ended = client.get(f"/job/{job_id}").json()["endedAt"]
        results["cancel: client sees CANCELED"].append(canceled - cancel_returned)
        results["cancel: server endedAt - cancel sent"].append(ts(ended) - cancel_wall)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    with sqlite_database() as url:
        secret = prepare_space(url, [FLOW], parallel_limit=100)
        with (
            api_server(url, worker=True) as base,
            httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=10
            ) as client,
        ):
            results = measure(client, args.runs)
    print_table(
        f"flowjobs latency, embedded SQLite, {args.runs} sequential jobs, {os.cpu_count()} cores",
        ["metric", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [[name, *summary_ms(values)] for name, values in results.items()],
    )


if __name__ == "__main__":
    main()
