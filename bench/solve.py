"""Solver API throughput (issue 20, point 6), measured in one run:

* **HTTP solves**: ``POST /rule/solve/test`` of ``Test_v2.json`` (48 rows),
  one input per request, over 32 keep-alive connections on loopback, beside
  the **FastAPI no-op POST** limit (bench/limits.py's app) in the same run,
  both served by uvicorn in one process with flowjobs' serve settings;
* **bulk**: one request with 10,000 inputs against ``Test_v2.json``;
* **in process**: one solve of a generated 1,000-row table (p50), and what
  the compiled form bought: a solve that compiles the table first (as an
  uncached server would) against one with the compiled table reused.

Usage: ``python bench/solve.py [--requests N] [--connections C] [--bulk N]``
(``make bench-solve``). Bounded: every phase has a count and a timeout.
Writes ``bench/results/solve-latest.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import loadgen
import procs
from harness import free_port

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "tests" / "data" / "decisionrules" / "Test_v2.json"
RESULTS = ROOT / "bench" / "results" / "solve-latest.md"
INPUT = {"productType": "basic_1", "period": "month", "promoCode": "SUMMER SALE"}
PERIODS = ("month", "year")
PRODUCTS = ("basic_1", "basic_2", "premium_1", "premium_2")


async def provision(database_url: str) -> str:
    """A space with a Solver key and Test_v2.json published; the key's secret."""
    from flowjobs.config import Settings
    from flowjobs.domain import KeyKind
    from flowjobs.runtime import build_services
    from flowjobs.store import upgrade

    upgrade(database_url)
    services = build_services(Settings(database_url=database_url), pool_size=2)
    try:
        space = await services.catalog.create_space("bench", parallel_limit=1)
        key = await services.catalog.create_key(space.id, KeyKind.SOLVER, "bench")
        await services.rules.create(space.id, json.loads(TABLE.read_text()))
        return key.secret
    finally:
        await services.close()


def serve_flowjobs(database_url: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "flowjobs",
        "--database-url",
        database_url,
        "serve",
        "--no-worker",
        "--port",
        str(port),
    ]


def http_rate(
    name: str, args: list[str], log_dir: Path, request: loadgen.Request, total: int, conns: int
) -> float:
    """Requests per second of one server under ``conns`` connections."""
    with procs.spawn(name, args, {}, log_dir) as process:
        procs.wait_healthy(f"http://127.0.0.1:{request.port}/health", process, log_dir, name)
        loadgen.run(request, min(total, 500), conns)  # warm-up: compile, caches, pools
        load = loadgen.run(request, total, conns, timeout=300)
    if load.statuses != {200: total}:
        raise RuntimeError(f"{name}: unexpected answers {load.statuses}")
    return load.rate


def bulk_seconds(database_url: str, secret: str, log_dir: Path, count: int) -> list[float]:
    """Seconds of three requests of ``count`` inputs each (after one warm-up)."""
    port = free_port()
    inputs = [
        {**INPUT, "productType": PRODUCTS[i % 4], "period": PERIODS[i % 2]} for i in range(count)
    ]
    body = json.dumps({"data": inputs})
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    timings = []
    with procs.spawn("flowjobs-bulk", serve_flowjobs(database_url, port), {}, log_dir) as process:
        procs.wait_healthy(f"http://127.0.0.1:{port}/health", process, log_dir, "flowjobs-bulk")
        url = f"http://127.0.0.1:{port}/rule/solve/test"
        with httpx.Client(timeout=120) as client:
            for attempt in range(4):
                started = time.perf_counter()
                response = client.post(url, content=body, headers=headers)
                elapsed = time.perf_counter() - started
                if response.status_code != 200 or len(response.json()) != count:
                    raise RuntimeError(f"bulk: {response.status_code} {response.text[:200]}")
                if attempt:
                    timings.append(elapsed)
    return timings


def generated_table(rows: int) -> dict[str, Any]:
    """A decision table of ``rows`` rows: an equality column and a between column."""
    columns = [
        {"type": "input", "columnId": 0, "condition": _input("Code", "code")},
        {"type": "input", "columnId": 1, "condition": _input("Amount", "amount")},
        {"type": "output", "columnId": 2, "columnOutput": _output("Rate", "rate")},
    ]
    body = []
    for row in range(rows):
        cells = [
            _cell(0, "=", f"C{row}"),
            _cell(1, "BTW", f"{row}, {row + 1000}"),
            {"type": "output", "column": 2, "outputScalarValue": {"type": "common", "value": "1"}},
        ]
        body.append({"active": True, "cells": cells})
    return {
        "name": "generated",
        "type": "decision-table",
        "inputSchema": {"code": {}, "amount": {}},
        "outputSchema": {"rate": {}},
        "decisionTable": {"columns": columns, "rows": body},
    }


def _input(name: str, variable: str) -> dict[str, Any]:
    return {"name": name, "inputVariable": variable, "type": "simple"}


def _output(name: str, variable: str) -> dict[str, Any]:
    return {"name": name, "outputVariable": variable, "type": "simple"}


def _cell(column: int, operator: str, value: str) -> dict[str, Any]:
    condition = {"type": "general", "operator": operator, "value": value}
    return {"type": "input", "column": column, "scalarCondition": condition}


def p50_ms(action: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def in_process(bulk: int) -> dict[str, float]:
    from flowjobs.decisions import compile_rule

    table = generated_table(1000)
    compiled = compile_rule(table)
    data = {"code": "C500", "amount": 900}
    test_v2 = json.loads(TABLE.read_text())
    compiled_v2 = compile_rule(test_v2)
    inputs = [{**INPUT, "period": PERIODS[i % 2]} for i in range(bulk)]
    started = time.perf_counter()
    for item in inputs:
        compiled_v2.solve(item)
    bulk_seconds = time.perf_counter() - started
    return {
        "generated_1000_compiled_p50_ms": p50_ms(lambda: compiled.solve(data), 200),
        "generated_1000_compile_each_p50_ms": p50_ms(lambda: compile_rule(table).solve(data), 10),
        "test_v2_compiled_p50_ms": p50_ms(lambda: compiled_v2.solve(INPUT), 500),
        "test_v2_compile_each_p50_ms": p50_ms(lambda: compile_rule(test_v2).solve(INPUT), 50),
        "bulk_in_process_s": bulk_seconds,
    }


def report(figures: dict[str, Any], args: argparse.Namespace) -> str:
    ratio = figures["solve_rate"] / figures["noop_rate"]
    bulk = min(figures["bulk_seconds"])
    lines = [
        "# Solver API bench (bench/solve.py)",
        "",
        f"{args.requests} requests per server, {args.connections} connections, loopback; "
        f"one uvicorn process each; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "| measure | figure | target |",
        "| --- | --- | --- |",
        f"| FastAPI no-op POST | {figures['noop_rate']:.0f} req/s | |",
        f"| `POST /rule/solve/test` (Test_v2, 48 rows) | {figures['solve_rate']:.0f} req/s "
        f"({ratio:.2f} x no-op) | >= 0.5 x |",
        f"| bulk of {args.bulk} inputs, one request | {bulk:.3f} s (best of 3; "
        f"{', '.join(f'{s:.3f}' for s in figures['bulk_seconds'])}) | <= 1 s |",
        f"| bulk of {args.bulk} in process (no HTTP, no JSON) | "
        f"{figures['bulk_in_process_s']:.3f} s | |",
        f"| 1,000-row table, one solve, compiled once | "
        f"{figures['generated_1000_compiled_p50_ms']:.3f} ms p50 | <= 1 ms |",
        f"| 1,000-row table, compiled for each solve | "
        f"{figures['generated_1000_compile_each_p50_ms']:.1f} ms p50 | |",
        f"| Test_v2, one solve, compiled once | "
        f"{figures['test_v2_compiled_p50_ms']:.3f} ms p50 | |",
        f"| Test_v2, compiled for each solve | "
        f"{figures['test_v2_compile_each_p50_ms']:.2f} ms p50 | |",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--bulk", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-solve-") as tmp:
        log_dir = Path(tmp)
        database_url = f"sqlite:///{tmp}/solve.db"
        secret = asyncio.run(provision(database_url))
        noop_port, solve_port = free_port(), free_port()
        noop_args = procs.python(str(ROOT / "bench" / "limits.py"), "fastapi", "--port")
        figures: dict[str, Any] = {
            "noop_rate": http_rate(
                "fastapi-noop",
                [*noop_args, str(noop_port)],
                log_dir,
                loadgen.Request(noop_port, "/noop"),
                args.requests,
                args.connections,
            ),
            "solve_rate": http_rate(
                "flowjobs-solve",
                serve_flowjobs(database_url, solve_port),
                log_dir,
                loadgen.Request(
                    solve_port, "/rule/solve/test", json.dumps({"data": INPUT}).encode(), secret
                ),
                args.requests,
                args.connections,
            ),
            "bulk_seconds": bulk_seconds(database_url, secret, log_dir, args.bulk),
        }
        figures |= in_process(args.bulk)
    text = report(figures, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
