"""The results file: the table plus the machine, the versions used and the
configuration of every system."""

from __future__ import annotations

import argparse
import platform
import sys
import time
from importlib import metadata

from metrics import Sizes
from systems import PG_ADMIN, REDIS, System

PACKAGES = [
    "flowjobs", "fastapi", "uvicorn", "sqlalchemy", "psycopg", "aiosqlite", "procrastinate",
    "pgqueuer", "asyncpg", "celery", "kombu", "redis", "rq", "httptools", "uvloop",
]  # fmt: skip


def package_versions() -> list[str]:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return found


def server_versions() -> list[str]:
    found = []
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        found.append(f"PostgreSQL {row[0] if row else '?'}")
    except Exception as exc:
        found.append(f"PostgreSQL unreachable ({type(exc).__name__})")
    try:
        import redis

        info = redis.Redis.from_url(REDIS, socket_timeout=3).info("server")
        found.append(f"Redis {info['redis_version']}")
    except Exception as exc:
        found.append(f"Redis unreachable ({type(exc).__name__})")
    return found


def unfinished(metrics_done: str) -> str:
    """``metrics_done`` is "measured of asked"; the header says when it is
    not all of them (a run still going, or stopped midway)."""
    if not metrics_done:
        return ""
    measured, asked = metrics_done.split(" of ")
    return "" if measured == asked else f" so far: {metrics_done} metrics measured"


def results_document(
    table: str,
    systems: list[System],
    sizes: Sizes,
    args: argparse.Namespace,
    seconds: float,
    cores: int | None,
    metrics_done: str = "",
) -> str:
    mode = "quick sizes" if args.quick else "full sizes"
    if args.systems or args.metrics:  # a subset: say which, so the file cannot pass for all
        mode += f" (systems: {args.systems or 'all'}; metrics: {args.metrics or 'all'})"
    else:
        mode += " (make bench-quick)" if args.quick else " (make bench)"
    lines = [
        "# Benchmark results",
        "",
        f"Run of {time.strftime('%Y-%m-%d %H:%M %Z')}, {mode}, {seconds / 60:.1f} minutes"
        f"{unfinished(metrics_done)}.",
        "",
        f"- machine: {cores} cores (`os.cpu_count()`), {platform.platform()}",
        f"- Python {sys.version.split()[0]}",
        f"- servers: {', '.join(server_versions())} (127.0.0.1)",
        f"- packages: {', '.join(package_versions())}",
        f"- repeats: {sizes.repeats}; load: {args.connections} HTTP connections / enqueue "
        f"callers in {args.client_processes} client process(es)",
        f"- sizes: {sizes}",
        "",
        "Ratio column: flowjobs' median ÷ this system's median. On ↑ metrics (higher is "
        "better) above 1 means flowjobs is ahead; on ↓ metrics (lower is better) below 1 "
        "means flowjobs is ahead. docs/performance.md says what each metric measures.",
        "",
        table,
        "",
        "## Configurations",
        "",
    ]
    for system in systems:
        lines.append(f"- **{system.name}**: {system.configuration_for('')}")
        for metric in system.configurations:
            lines.append(f"  - {metric}: {system.configuration_for(metric)}")
        for metric, reason in system.not_applicable.items():
            lines.append(f"  - {metric}: n/a, {reason}")
    lines += ["", *load_generator_notes(systems)]
    return "\n".join(lines) + "\n"


def load_generator_notes(systems: list[System]) -> list[str]:
    notes = []
    for system in systems:
        busy = getattr(system, "cpu_busy", None)
        if busy:
            shares = ", ".join(f"{b:.0%}" for b in busy)
            notes.append(f"- load generator CPU busy while measuring {system.name}: {shares}")
    if notes:
        notes.insert(0, "## Load generator")
        notes.insert(1, "")
    return notes
