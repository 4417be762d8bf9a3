"""pgqueuer on PostgreSQL: two ``pgq run`` processes (one per core) with its
defaults (batch size 10, LISTEN/NOTIFY with a 30 s dequeue timeout), asyncpg."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import asyncpg
import measure
import parallel
import procs
import psutil
import psycopg
from harness import postgres_database
from pgqueuer.db import AsyncpgPoolDriver
from pgqueuer.models import JobId
from pgqueuer.queries import Queries

from systems import Context, System
from systems.pg_counts import Counts
from systems.pgqueuer_app import DSN_ENV

WORKERS = 2
CANCEL_CHUNK = 500  # ids per mark_job_as_cancelled: its NOTIFY payload is limited to 8000 bytes
FILL_BATCH = 5000


def _enqueue(args: tuple[str, int, int], ready: Callable[[], None]) -> parallel.Span:
    """A load process: ``total`` single enqueue calls from ``callers`` coroutines."""
    dsn, total, callers = args

    async def load() -> parallel.Span:
        pool = await asyncpg.create_pool(dsn, min_size=callers, max_size=callers)
        try:
            queries = Queries(AsyncpgPoolDriver(pool))
            remaining = total

            async def caller() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await queries.enqueue("noop", None)

            ready()
            start = time.monotonic()
            await asyncio.gather(*(caller() for _ in range(callers)))
            return parallel.Span(total, start, time.monotonic())
        finally:
            await pool.close()

    return asyncio.run(load())


class Pgqueuer(System):
    key = "pgqueuer"
    name = "pgqueuer"
    configuration = f"{WORKERS} x pgqueuer.run() (defaults: batch 10), asyncpg, LISTEN/NOTIFY"
    configurations = {  # noqa: RUF012
        "start_throughput": "enqueue() from {c} coroutines (asyncpg pool), 1 process",
        "worker_rss": "1 process, max_concurrent_tasks {n}",
        "bulk_cancel": "mark_job_as_cancelled(), 500 ids a call",
        "lookup_latency": "Queries.job_status([id]), sequential",
    }
    not_applicable = {  # noqa: RUF012
        "flow_work": "a task queue: no flow engine to run the example flow",
    }

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self._stack = ExitStack()
        self.dsn = self._stack.enter_context(postgres_database())
        self.counts = Counts(self.dsn)
        self._stack.callback(self.counts.close)
        subprocess.run(
            procs.python("-m", "pgqueuer", "--pg-dsn", self.dsn, "install"),
            check=True,
            capture_output=True,
            timeout=120,
            env=procs.child_env({}),
        )

    def teardown(self) -> None:
        self._stack.close()

    def reset(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE pgqueuer, pgqueuer_log")

    def waiting(self, status: str = "queued", entrypoint: str = "noop") -> int:
        return self.counts.scalar(
            "SELECT count(*) FROM pgqueuer WHERE status = %s AND entrypoint = %s",
            (status, entrypoint),
        )

    def left(self) -> int:
        """Jobs still in the queue table (done ones are deleted from it)."""
        return self.counts.scalar("SELECT count(*) FROM pgqueuer WHERE entrypoint = 'noop'")

    def workers(self, stack: ExitStack, count: int = WORKERS, *extra: str) -> list[int]:
        pids = []
        for index in range(count):
            args = procs.python("-m", "systems.pgqueuer_app", *extra)
            env = self.ctx.env() | {DSN_ENV: self.dsn}
            process = stack.enter_context(
                procs.spawn(f"{self.key}-worker{index}", args, env, self.ctx.log_dir)
            )
            pids.append(process.pid)
        return pids

    def run(self, work: Callable[[Queries], Any]) -> Any:
        async def inside() -> Any:
            connection = await asyncpg.connect(self.dsn)
            try:
                from pgqueuer.db import AsyncpgDriver

                return await work(Queries(AsyncpgDriver(connection)))
            finally:
                await connection.close()

        return asyncio.run(inside())

    def enqueue_load(self, total: int) -> float:
        shares = parallel.split(total, self.ctx.client_processes)
        callers = max(1, self.ctx.connections // self.ctx.client_processes)
        return parallel.run(
            _enqueue, [(self.dsn, s, callers) for s in shares], measure.budget(total)
        ).rate

    def fill(self, total: int, entrypoint: str = "noop", payload: bytes | None = None) -> list[int]:
        async def batches(queries: Queries) -> list[int]:
            ids: list[int] = []
            for start in range(0, total, FILL_BATCH):
                size = min(FILL_BATCH, total - start)
                ids += await queries.enqueue([entrypoint] * size, [payload] * size, [0] * size)
            return ids

        ids = list(self.run(batches))
        self.counts.analyze("pgqueuer")
        return ids

    def warm_up(self) -> None:
        tag = uuid.uuid4().hex
        self.run(lambda q: q.enqueue("touch", tag.encode()))
        self.ctx.probe.wait_for(tag, "start", timeout=30)

    # --- metrics --------------------------------------------------------------------------

    def start_throughput(self) -> float:
        self.reset()
        return self.enqueue_load(self.ctx.sizes.start_jobs)

    def process_throughput(self) -> float:
        self.reset()
        total = self.ctx.sizes.process_jobs
        self.fill(total)
        with ExitStack() as stack:
            self.workers(stack)
            return measure.completion_rate(
                lambda: total - self.left(), total, measure.budget(total)
            )

    def end_to_end(self) -> float:
        self.reset()
        total = self.ctx.sizes.end_to_end_jobs
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            started = time.monotonic()
            self.enqueue_load(total)
            return (
                measure.wait_count(lambda: total - self.left(), total, measure.budget(total))
                - started
            )

    def dispatch_latency(self) -> list[float]:
        self.reset()
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            returned = self.run(self._dispatch)
        return [self.ctx.probe.wait_for(t, "start") - r for t, r in returned.items()]

    async def _dispatch(self, queries: Queries) -> dict[str, float]:
        returned: dict[str, float] = {}
        tick = measure.paced(self.ctx.sizes.dispatch_jobs, 0.02)
        for i in range(self.ctx.sizes.dispatch_jobs):
            tick(i)
            tag = uuid.uuid4().hex
            await queries.enqueue("touch", tag.encode())
            returned[tag] = time.monotonic()
        return returned

    def cancel_latency(self) -> list[float]:
        self.reset()
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            return list(self.run(self._cancels))

    async def _cancels(self, queries: Queries) -> list[float]:
        """Stopped = the task's own ``finally`` reports it (its log says
        'canceled' as soon as the cancel call wrote it, before the job stops)."""
        samples = []
        for _ in range(self.ctx.sizes.cancel_jobs):
            tag = uuid.uuid4().hex
            [job_id] = await queries.enqueue("sleep", tag.encode())
            await asyncio.to_thread(self.ctx.probe.wait_for, tag, "start")
            sent = time.monotonic()
            await queries.mark_job_as_cancelled([job_id])
            stopped = await asyncio.to_thread(self.ctx.probe.wait_for, tag, "stop", 30)
            samples.append(stopped - sent)
        return samples

    def bulk_cancel(self) -> float:
        self.reset()
        total = self.ctx.sizes.bulk_cancel_jobs
        ids = self.fill(total)

        async def cancel(queries: Queries) -> float:
            sent = time.monotonic()
            for start in range(0, len(ids), CANCEL_CHUNK):
                await queries.mark_job_as_cancelled(ids[start : start + CANCEL_CHUNK])
            return time.monotonic() - sent

        took = float(self.run(cancel))
        if self.left():
            raise RuntimeError(f"{self.left()} jobs still queued after the cancel")
        return took

    def lookup_latency(self) -> list[float]:
        """``Queries.job_status([id])`` with N finished jobs in its log table, three
        rows each as a processed job leaves them (queued, picked, successful),
        inserted set-based (finished jobs leave the queue table)."""
        self.reset()
        rows = self.ctx.sizes.lookup_rows
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority) "
                "SELECT g, s::text::pgqueuer_status, 'noop', 0 FROM generate_series(1, %s) g, "
                "unnest(ARRAY['queued', 'picked', 'successful']) s",
                (rows,),
            )
            conn.execute("VACUUM ANALYZE pgqueuer_log")
        ids = measure.spread(1, rows, self.ctx.sizes.lookup_gets)

        async def lookups(queries: Queries) -> list[float]:
            samples = []
            for job_id in ids:
                sent = time.monotonic()
                [(_, status)] = await queries.job_status([JobId(job_id)])
                samples.append(time.monotonic() - sent)
                if status != "successful":
                    raise RuntimeError(f"job {job_id} is {status}")
            return samples

        samples = list(self.run(lookups))
        self.reset()
        return samples

    def worker_rss(self) -> float:
        self.reset()
        total = self.ctx.sizes.rss_jobs
        with ExitStack() as stack:
            [pid] = self.workers(stack, 1, "--max-concurrent-tasks", str(total))
            self.fill(total, "sleep", b"")
            measure.wait_count(lambda: self.waiting("picked", "sleep"), total, 300)
            time.sleep(1)
            rss = psutil.Process(pid).memory_info().rss
            procs.kill_group(pid)  # it would wait for its 1,000 sleeping jobs
        self.reset()
        return rss / 2**20
