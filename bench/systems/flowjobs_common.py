"""flowjobs driven as a user would: ``flowjobs serve`` / ``flowjobs worker``
processes, jobs started over HTTP by the load generator or an httpx client.
:mod:`systems.flowjobs_sqlite` and :mod:`systems.flowjobs_pg` say which
processes run the jobs."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import loadgen
import measure
import procs
import psutil
import sqlalchemy as sa
from harness import free_port

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import KeyKind
from flowjobs.ids import job_id_at
from flowjobs.store import SqlStore, sync_url, upgrade
from flowjobs.store.tables import jobs
from systems import Context, System

HANDLERS = "systems.flowjobs_handlers"
FLOWS: list[dict[str, Any]] = [
    {"name": "noop", "alias": "noop", "nodes": [{"id": "done", "type": "end"}]},
    {"name": "touch", "alias": "touch", "handler": f"{HANDLERS}:touch"},
    {"name": "sleep", "alias": "sleep", "handler": f"{HANDLERS}:sleep"},
    {"name": "waiter", "alias": "waiter", "nodes": [{"id": "nap", "type": "wait", "seconds": 600}]},
]
PARALLEL_LIMIT = 10_000
FILL_BATCH = 10_000
LEFT = "SELECT count(*) FROM jobs WHERE state IN ('WAITING', 'RUNNING')"  # jobs not ended


class Flowjobs(System):
    is_flowjobs = True
    backend = "sqlite"
    not_applicable: dict[str, str] = {}  # noqa: RUF012

    # --- set-up ---------------------------------------------------------------------------

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self._stack = ExitStack()
        self.url = self._stack.enter_context(self.database())
        upgrade(self.url)
        self.engine = sa.create_engine(sync_url(self.url))
        self._stack.callback(self.engine.dispose)
        self.space_id, self.key_id, self.secret = asyncio.run(self._prepare())
        self.noop_base_id = self._scalar(
            "SELECT base_id FROM rules WHERE alias = 'noop' AND space_id = :s", s=self.space_id
        )

    def teardown(self) -> None:
        self._stack.close()

    def database(self) -> Any:  # a context manager yielding the URL
        raise NotImplementedError

    def settings(self) -> Settings:
        return Settings(database_url=self.url, handler_prefixes=[HANDLERS])

    async def _prepare(self) -> tuple[str, str, str]:
        store = SqlStore(self.url, pool_size=2)
        try:
            catalog = Catalog(store, self.settings())
            space = await catalog.create_space("bench", parallel_limit=PARALLEL_LIMIT)
            key = await catalog.create_key(space.id, KeyKind.SOLVER, "bench")
            for flow in FLOWS:
                await catalog.push_rule(space.id, flow, publish=True)
            return space.id, key.key.id, key.secret
        finally:
            await store.close()

    def env(self, **extra: str) -> dict[str, str]:
        return (
            self.ctx.env()
            | {
                "FLOWJOBS_DATABASE_URL": self.url,
                "FLOWJOBS_LOG_LEVEL": "WARNING",
                "FLOWJOBS_HANDLER_PREFIXES": json.dumps([HANDLERS]),
                "FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "1",  # the bench stops processes with jobs
            }
            | extra
        )

    # --- database -------------------------------------------------------------------------

    def _scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def reset(self) -> None:
        """Deletes every job (and what hangs off them)."""
        with self.engine.begin() as conn:
            if self.backend == "postgresql":
                conn.execute(sa.text("TRUNCATE jobs CASCADE"))
                return
            for child in self._sqlite_children(conn):
                conn.execute(sa.text(f'DELETE FROM "{child}"'))
            conn.execute(sa.text("DELETE FROM jobs"))

    @staticmethod
    def _sqlite_children(conn: sa.Connection) -> list[str]:
        tables = [
            r[0] for r in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type='table'"))
        ]
        return [
            t
            for t in tables
            if any(
                fk[2] == "jobs" for fk in conn.execute(sa.text(f'PRAGMA foreign_key_list("{t}")'))
            )
        ]

    def count(self, state: str) -> int:
        return int(self._scalar("SELECT count(*) FROM jobs WHERE state = :s", s=state))

    def done(self, total: int) -> int:
        """Of ``total`` jobs in the table, those that have ended. The poll
        (every 20 ms) counts what is left, through the index of jobs not ended,
        not the ended rows: their count would scan a table that grows with
        the run, on the cores the workers need."""
        return total - self.left()

    def left(self) -> int:
        return int(self._scalar(LEFT))

    def expect_completed(self, total: int) -> None:
        completed = self.count("COMPLETED")
        if completed != total:
            raise RuntimeError(f"{completed} of {total} jobs completed")

    def fill(self, count: int, state: str) -> list[str]:
        """Inserts ``count`` noop jobs in ``state`` straight into the table (as
        the API would have created them, finished ones as a worker ends them)."""
        now = datetime.now(UTC)
        ids: list[str] = []
        with self.engine.begin() as conn:
            for start in range(0, count, FILL_BATCH):
                # oldest first, as the API creates them: ids follow created_at
                rows = [
                    self._row(now, count - 1 - i, state)
                    for i in range(start, min(count, start + FILL_BATCH))
                ]
                conn.execute(jobs.insert(), rows)
                ids += [r["id"] for r in rows]
        self.filled()
        return ids

    def filled(self) -> None:
        """After a fill (PostgreSQL: its statistics)."""

    def _row(self, now: datetime, i: int, state: str) -> dict[str, Any]:
        created = now - timedelta(seconds=i * 0.01)
        finished = state != "WAITING"
        return {
            "id": job_id_at(created), "space_id": self.space_id, "base_id": self.noop_base_id,
            "version": 1, "rule_type": "integration-flow", "correlation_id": str(uuid.uuid4()),
            "input": {}, "output": [{}] if finished else None, "state": state,
            "code": "JOB_SUCCESS" if finished else "JOB_INITIALIZED",
            "message": "done" if finished else "Job initialized", "priority": 0,
            "parallel_limit": PARALLEL_LIMIT, "environment_group": "production",
            "api_key_id": self.key_id, "api_key_name": "bench", "execution_limit_s": 86400.0,
            "created_at": created, "updated_at": created,
            "claimed_at": created if finished else None, "ended_at": created if finished else None,
            "attempts": 1 if finished else 0,
        }  # fmt: skip

    # --- processes ------------------------------------------------------------------------

    @contextmanager
    def serve(self, *, worker: bool, name: str = "serve", **env: str) -> Iterator[int]:
        """``flowjobs serve`` on a free port; yields the port once healthy."""
        port = free_port()
        args = procs.python("-m", "flowjobs", "serve", "--port", str(port))
        if not worker:
            args.append("--no-worker")
        log = f"{self.key}-{name}"
        with procs.spawn(log, args, self.env(**env), self.ctx.log_dir) as process:
            procs.wait_healthy(f"http://127.0.0.1:{port}/health", process, self.ctx.log_dir, log)
            self.pid = process.pid
            yield port

    @contextmanager
    def worker(self, index: int, concurrency: int = 16) -> Iterator[int]:
        args = procs.python("-m", "flowjobs", "worker", "--concurrency", str(concurrency))
        log = f"{self.key}-worker{index}"
        with procs.spawn(log, args, self.env(), self.ctx.log_dir) as process:
            yield process.pid

    def runners(self, stack: ExitStack) -> int:
        """Starts the processes that run jobs (and answer the API); returns the API port."""
        raise NotImplementedError

    def client(self, port: int) -> httpx.Client:
        return httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {self.secret}"},
            timeout=30,
        )

    def start_many(self, port: int, alias: str, count: int) -> float:
        """Starts ``count`` jobs over HTTP with the load generator; jobs/s."""
        load = loadgen.run(
            loadgen.Request(port, f"/job/start/{alias}", token=self.secret),
            count,
            self.ctx.connections,
            self.ctx.client_processes,
            timeout=measure.budget(count),
        )
        if load.statuses != {200: count}:
            raise RuntimeError(f"starts answered {load.statuses}")
        return load.rate

    def warm_up(self, client: httpx.Client) -> None:
        """One probe job through, so every process is up and listening."""
        tag = uuid.uuid4().hex
        client.post("/job/start/touch", json={"tag": tag}).raise_for_status()
        self.ctx.probe.wait_for(tag, "start", timeout=30)

    # --- metrics --------------------------------------------------------------------------

    def start_throughput(self) -> float:
        self.reset()
        with self.serve(worker=False) as port:
            return self.start_many(port, "noop", self.ctx.sizes.start_jobs)

    def process_throughput(self) -> float:
        self.reset()
        total = self.ctx.sizes.process_jobs
        self.fill(total, "WAITING")
        with ExitStack() as stack:
            self.runners(stack)
            rate = measure.completion_rate(lambda: self.done(total), total, measure.budget(total))
        self.expect_completed(total)
        return rate

    def end_to_end(self) -> float:
        self.reset()
        total = self.ctx.sizes.end_to_end_jobs
        with ExitStack() as stack:
            port = self.runners(stack)
            with self.client(port) as client:
                self.warm_up(client)
            started = time.monotonic()
            self.start_many(port, "noop", total)  # returns once every job is accepted
            done = measure.wait_count(
                lambda: self.done(total + 1), total + 1, measure.budget(total)
            )
        self.expect_completed(total + 1)  # and the warm-up job
        return done - started

    def dispatch_latency(self) -> list[float]:
        self.reset()
        with ExitStack() as stack:
            port = self.runners(stack)
            client = stack.enter_context(self.client(port))
            self.warm_up(client)
            returned: dict[str, float] = {}
            tick = measure.paced(self.ctx.sizes.dispatch_jobs, 0.02)
            for i in range(self.ctx.sizes.dispatch_jobs):
                tick(i)
                tag = uuid.uuid4().hex
                client.post("/job/start/touch", json={"tag": tag}).raise_for_status()
                returned[tag] = time.monotonic()
            return [self.ctx.probe.wait_for(t, "start") - r for t, r in returned.items()]

    def cancel_latency(self) -> list[float]:
        self.reset()
        samples = []
        with ExitStack() as stack:
            port = self.runners(stack)
            client = stack.enter_context(self.client(port))
            self.warm_up(client)
            for _ in range(self.ctx.sizes.cancel_jobs):
                tag = uuid.uuid4().hex
                job = client.post("/job/start/sleep", json={"tag": tag}).json()
                self.ctx.probe.wait_for(tag, "start")
                sent = time.monotonic()
                client.post(f"/job/cancel/{job['jobId']}").raise_for_status()
                seen = measure.poll_until(
                    lambda j=job["jobId"]: (
                        client.get(f"/job/{j}").json()["status"]["state"] == "CANCELED"
                    ),
                    timeout=30,
                )
                samples.append(seen - sent)
        return samples

    def bulk_cancel(self) -> float:
        self.reset()
        total = self.ctx.sizes.bulk_cancel_jobs
        self.fill(total, "WAITING")
        with self.serve(worker=False) as port, self.client(port) as client:
            sent = time.monotonic()
            answer = client.post(f"/job/cancelAll/space/{self.space_id}", timeout=300)
            took = time.monotonic() - sent
        answer.raise_for_status()
        if answer.json()["canceledCount"] != total:
            raise RuntimeError(f"cancelAll answered {answer.json()}")
        return took

    def lookup_latency(self) -> list[float]:
        self.reset()
        ids = self.fill_finished(self.ctx.sizes.lookup_rows)
        step = max(1, len(ids) // self.ctx.sizes.lookup_gets)
        samples = []
        with self.serve(worker=False) as port, self.client(port) as client:
            for job_id in ids[::step][: self.ctx.sizes.lookup_gets]:
                sent = time.monotonic()
                answer = client.get(f"/job/{job_id}")
                samples.append(time.monotonic() - sent)
                if answer.status_code != 200:
                    raise RuntimeError(f"GET /job/{job_id} answered {answer.status_code}")
        self.reset()
        return samples

    def fill_finished(self, count: int) -> list[str]:
        return self.fill(count, "COMPLETED")

    def rss_runner(self, stack: ExitStack, concurrency: int) -> tuple[int, int]:
        """(API port, pid of the process whose memory is measured)."""
        raise NotImplementedError

    def worker_rss(self) -> float:
        self.reset()
        total = self.ctx.sizes.rss_jobs
        with ExitStack() as stack:
            port, pid = self.rss_runner(stack, total)
            self.start_many(port, "waiter", total)
            measure.wait_count(lambda: self.count("RUNNING"), total, 300)
            time.sleep(1)  # let the claims' allocations settle
            process = psutil.Process(pid)
            rss = process.memory_info().rss + sum(
                c.memory_info().rss for c in process.children(recursive=True)
            )
        self.reset()
        return rss / 2**20

    def flow_work(self) -> float:
        import credit_tiers

        sizes = self.ctx.sizes
        result = credit_tiers.measure(self.backend, sizes.flow_rows, sizes.flow_batch, 1, 1800)
        return result.rates[0]
