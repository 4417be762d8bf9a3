"""procrastinate on PostgreSQL: two ``procrastinate worker`` processes (one per
core), ``--concurrency 16`` each (async tasks), LISTEN/NOTIFY on (its
default), jobs kept after they end (its default ``delete_jobs=never``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import measure
import parallel
import procs
import psutil
import psycopg
from harness import postgres_database

from systems import Context, System
from systems.pg_counts import Counts
from systems.procrastinate_app import DSN_ENV, make_app

WORKERS = 2
CONCURRENCY = 16
BATCH = 1000


def _enqueue(args: tuple[str, int, int], ready: Callable[[], None]) -> parallel.Span:
    """A load process: ``total`` ``defer_async`` calls from ``callers`` coroutines."""
    dsn, total, callers = args
    app = make_app(dsn)

    async def load() -> parallel.Span:
        async with app.open_async():
            task = app.tasks["noop"]
            remaining = total

            async def caller() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    await task.defer_async()

            ready()
            start = time.monotonic()
            await asyncio.gather(*(caller() for _ in range(callers)))
            return parallel.Span(total, start, time.monotonic())

    return asyncio.run(load())


async def _lookups(app: Any, ids: list[int]) -> list[float]:
    samples = []
    for job_id in ids:
        sent = time.monotonic()
        [job] = await app.job_manager.list_jobs_async(id=job_id)
        samples.append(time.monotonic() - sent)
        if job.status != "succeeded":
            raise RuntimeError(f"job {job_id} is {job.status}")
    return samples


class Procrastinate(System):
    key = "procrastinate"
    name = "procrastinate"
    configuration = f"{WORKERS} workers, --concurrency {CONCURRENCY}, LISTEN/NOTIFY"
    configurations = {  # noqa: RUF012
        "start_throughput": "defer_async() from {c} coroutines, 1 process",
        "worker_rss": "1 worker, --concurrency {n}",
        "lookup_latency": "job_manager.list_jobs_async(id=...), sequential",
    }
    not_applicable = {  # noqa: RUF012
        "bulk_cancel": "no bulk cancel: one cancel_job_by_id call per job",
        "flow_work": "a task queue: no flow engine to run the example flow",
    }

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self._stack = ExitStack()
        self.dsn = self._stack.enter_context(postgres_database())
        self.counts = Counts(self.dsn)
        self._stack.callback(self.counts.close)
        self.app = make_app(self.dsn)
        asyncio.run(self._apply_schema())

    def teardown(self) -> None:
        self._stack.close()

    async def _apply_schema(self) -> None:
        async with self.app.open_async():
            await self.app.schema_manager.apply_schema_async()

    def reset(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute("TRUNCATE procrastinate_jobs CASCADE")

    def count(self, status: str, task: str = "noop") -> int:
        return self.counts.scalar(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = %s AND task_name = %s",
            (status, task),
        )

    def done(self, total: int) -> int:
        """Of ``total`` noop jobs queued, those no longer to do or doing. The
        poll counts what is left (its indexes cover only jobs to do or doing),
        not the finished rows, whose count grows with the run."""
        left = self.counts.scalar(
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE status IN ('todo', 'doing') AND task_name = 'noop'"
        )
        return total - left

    def expect_succeeded(self, total: int) -> None:
        succeeded = self.count("succeeded")
        if succeeded != total:
            raise RuntimeError(f"{succeeded} of {total} jobs succeeded")

    def workers(
        self, stack: ExitStack, count: int = WORKERS, concurrency: int = CONCURRENCY
    ) -> list[int]:
        pids = []
        for index in range(count):
            args = procs.python(
                "-m", "procrastinate", "--app=systems.procrastinate_app.app", "worker",
                f"--concurrency={concurrency}", "--shutdown-graceful-timeout=1",
            )  # fmt: skip
            env = self.ctx.env() | {DSN_ENV: self.dsn}
            process = stack.enter_context(
                procs.spawn(f"{self.key}-worker{index}", args, env, self.ctx.log_dir)
            )
            pids.append(process.pid)
        return pids

    def enqueue_load(self, total: int) -> float:
        shares = parallel.split(total, self.ctx.client_processes)
        callers = max(1, self.ctx.connections // self.ctx.client_processes)
        load = parallel.run(
            _enqueue, [(self.dsn, s, callers) for s in shares], measure.budget(total)
        )
        return load.rate

    def run(self, coroutine: Callable[[Any], Any]) -> Any:
        async def inside() -> Any:
            async with self.app.open_async():
                return await coroutine(self.app)

        return asyncio.run(inside())

    def fill(self, total: int) -> None:
        async def batch(app: Any) -> None:
            for start in range(0, total, BATCH):
                await app.tasks["noop"].batch_defer_async(
                    *({} for _ in range(min(BATCH, total - start)))
                )

        self.run(batch)
        self.counts.analyze("procrastinate_jobs")

    def warm_up(self) -> None:
        tag = uuid.uuid4().hex
        self.run(lambda app: app.tasks["touch"].defer_async(tag=tag))
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
            rate = measure.completion_rate(lambda: self.done(total), total, measure.budget(total))
        self.expect_succeeded(total)
        return rate

    def end_to_end(self) -> float:
        self.reset()
        total = self.ctx.sizes.end_to_end_jobs
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            started = time.monotonic()
            self.enqueue_load(total)  # returns once every job is queued
            done = measure.wait_count(lambda: self.done(total), total, measure.budget(total))
        self.expect_succeeded(total)  # (the warm-up is another task)
        return done - started

    def dispatch_latency(self) -> list[float]:
        self.reset()
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            returned = self.run(self._dispatch)
        return [self.ctx.probe.wait_for(t, "start") - r for t, r in returned.items()]

    async def _dispatch(self, app: Any) -> dict[str, float]:
        returned: dict[str, float] = {}
        tick = measure.paced(self.ctx.sizes.dispatch_jobs, 0.02)
        for i in range(self.ctx.sizes.dispatch_jobs):
            tick(i)
            tag = uuid.uuid4().hex
            await app.tasks["touch"].defer_async(tag=tag)
            returned[tag] = time.monotonic()
        return returned

    def cancel_latency(self) -> list[float]:
        self.reset()
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            return list(self.run(self._cancels))

    async def _cancels(self, app: Any) -> list[float]:
        samples = []
        for _ in range(self.ctx.sizes.cancel_jobs):
            tag = uuid.uuid4().hex
            job_id = await app.tasks["sleep"].defer_async(tag=tag)
            await asyncio.to_thread(self.ctx.probe.wait_for, tag, "start")
            sent = time.monotonic()
            await app.job_manager.cancel_job_by_id_async(job_id, abort=True)
            samples.append(await self._aborted(app, job_id) - sent)
        return samples

    @staticmethod
    async def _aborted(app: Any, job_id: int, timeout: float = 30) -> float:
        """``time.monotonic()`` when list_jobs shows the job aborted (polled every 2 ms)."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.002) + 2):
            [job] = await app.job_manager.list_jobs_async(id=job_id)
            if job.status == "aborted":
                return time.monotonic()
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.002)
        raise TimeoutError(f"job {job_id} not aborted within {timeout} s")

    def lookup_latency(self) -> list[float]:
        """``job_manager.list_jobs(id=...)`` with N finished jobs in its table
        (inserted set-based, as its worker leaves them: status succeeded)."""
        self.reset()
        rows = self.ctx.sizes.lookup_rows
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, attempts) "
                "SELECT 'default', 'noop', '{}', 'succeeded', 1 FROM generate_series(1, %s)",
                (rows,),
            )
            conn.execute("VACUUM ANALYZE procrastinate_jobs")
            row = conn.execute("SELECT min(id), max(id) FROM procrastinate_jobs").fetchone()
        assert row is not None
        ids = measure.spread(row[0], row[1], self.ctx.sizes.lookup_gets)
        samples = list(self.run(lambda app: _lookups(app, ids)))
        self.reset()
        return samples

    def worker_rss(self) -> float:
        self.reset()
        total = self.ctx.sizes.rss_jobs
        with ExitStack() as stack:
            [pid] = self.workers(stack, count=1, concurrency=total)

            async def sleepers(app: Any) -> None:
                for start in range(0, total, BATCH):
                    size = min(BATCH, total - start)
                    await app.tasks["sleep"].batch_defer_async(*({"tag": ""} for _ in range(size)))

            self.run(sleepers)
            measure.wait_count(lambda: self.count("doing", "sleep"), total, 300)
            time.sleep(1)
            rss = psutil.Process(pid).memory_info().rss
        self.reset()
        return rss / 2**20
