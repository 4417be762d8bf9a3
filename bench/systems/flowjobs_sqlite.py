"""flowjobs on SQLite: one ``flowjobs serve`` process, API and embedded worker."""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from harness import sqlite_database

from systems.flowjobs_common import Flowjobs


class FlowjobsSqlite(Flowjobs):
    key = "flowjobs_sqlite"
    name = "flowjobs SQLite"
    configuration = "1 process: serve + embedded worker (concurrency 16), WAL"
    backend = "sqlite"
    configurations = {  # noqa: RUF012
        "start_throughput": "serve --no-worker (API only); {c} connections",
        "bulk_cancel": "serve --no-worker; one POST /job/cancelAll/space/{{id}}",
        "lookup_latency": "serve --no-worker; sequential GET /job/{{id}} (httpx)",
        "worker_rss": "1 serve process, FLOWJOBS_CONCURRENCY={n} (API included)",
        "flow_work": "1 serve process (credit_tiers.py), SQLite crm database",
    }

    def database(self) -> Any:
        return sqlite_database()

    def runners(self, stack: ExitStack) -> int:
        return stack.enter_context(self.serve(worker=True))

    def rss_runner(self, stack: ExitStack, concurrency: int) -> tuple[int, int]:
        port = stack.enter_context(self.serve(worker=True, FLOWJOBS_CONCURRENCY=str(concurrency)))
        return port, self.pid
