"""flowjobs on PostgreSQL: ``serve --no-worker`` plus two ``flowjobs worker``
processes (one per core, concurrency 16 each), woken by LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from typing import Any

import explain
import sqlalchemy as sa
from harness import postgres_database

from flowjobs.catalog import Catalog
from flowjobs.domain import KeyKind
from flowjobs.store import SqlStore
from systems import Context
from systems.flowjobs_common import LEFT, Flowjobs
from systems.pg_counts import Counts

WORKERS = 2
LOOKUP_SPACE = 7  # explain.py's spaces are space-0 .. space-49
LOOKUP_SPACES = 50


class FlowjobsPg(Flowjobs):
    key = "flowjobs_pg"
    name = "flowjobs PostgreSQL"
    configuration = "serve --no-worker + 2 workers (concurrency 16), LISTEN/NOTIFY"
    backend = "postgresql"
    configurations = {  # noqa: RUF012
        "start_throughput": "serve --no-worker (API only); {c} connections",
        "bulk_cancel": "serve --no-worker; one POST /job/cancelAll/space/{{id}}",
        "lookup_latency": "serve --no-worker; sequential GET /job/{{id}} (httpx)",
        "worker_rss": "1 worker, --concurrency {n}",
        "flow_work": "1 serve process with its worker (credit_tiers.py), PostgreSQL crm",
    }

    def database(self) -> Any:
        return postgres_database()

    def runners(self, stack: ExitStack) -> int:
        port = stack.enter_context(self.serve(worker=False))
        for index in range(WORKERS):
            stack.enter_context(self.worker(index))
        return port

    def rss_runner(self, stack: ExitStack, concurrency: int) -> tuple[int, int]:
        port = stack.enter_context(self.serve(worker=False))
        pid = stack.enter_context(self.worker(0, concurrency=concurrency))
        return port, pid

    def fill_finished(self, count: int) -> list[str]:
        """explain.py's set-based fill (its own 50 spaces), then a key of one
        of them; returns that space's finished job ids."""
        explain.fill(self.url, {"finished": count, "waiting": 0, "spaces": LOOKUP_SPACES})
        self.secret = asyncio.run(self._key_for(f"space-{LOOKUP_SPACE}"))
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.text(
                    "SELECT id FROM jobs WHERE space_id = :space AND ended_at IS NOT NULL "
                    "ORDER BY created_at DESC"  # the fill's row order: ids carry its clock
                ),
                {"space": f"space-{LOOKUP_SPACE}"},
            )
            return [str(row[0]) for row in found]

    async def _key_for(self, space_id: str) -> str:
        store = SqlStore(self.url, pool_size=2)
        try:
            return (
                await Catalog(store, self.settings()).create_key(space_id, KeyKind.SOLVER, "bench")
            ).secret
        finally:
            await store.close()

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self.main_secret = self.secret
        self.counts = Counts(self.url)
        self._stack.callback(self.counts.close)

    def left(self) -> int:
        return self.counts.scalar(LEFT)

    def filled(self) -> None:
        self.counts.analyze("jobs")

    def reset(self) -> None:
        """Also drops explain.py's spaces and the key made for one of them."""
        super().reset()
        self.secret = self.main_secret
        with self.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM api_keys WHERE space_id LIKE 'space-%'"))
            conn.execute(sa.text("DELETE FROM spaces WHERE id LIKE 'space-%'"))
