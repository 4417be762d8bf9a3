"""Celery with Redis as broker and result backend: one ``celery worker`` with
the prefork pool and ``--concurrency 2`` (2 worker processes, one per core),
Celery's defaults otherwise (prefetch multiplier 4, early acknowledgement,
fair scheduling). The result backend holds each task's state, as a job API
needs, and shows a revoked task as REVOKED."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import measure
import parallel
import procs

from systems import Context, System, redis_common
from systems.celery_app import BACKEND_ENV, BROKER_ENV, make_app

CONCURRENCY = 2


def _enqueue(args: tuple[str, str, int, int], ready: Callable[[], None]) -> parallel.Span:
    """A load process: ``total`` ``delay()`` calls from ``callers`` threads."""
    broker, backend, total, callers = args
    app = make_app(broker, backend)
    task = app.tasks["noop"]
    task.delay().forget()  # connect before the clock starts

    def caller(count: int) -> None:
        for _ in range(count):
            task.delay()

    ready()
    start = time.monotonic()
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(caller, parallel.split(total, callers)))
    return parallel.Span(total, start, time.monotonic())


class CeleryRedis(System):
    key = "celery"
    name = "Celery + Redis"
    configuration = f"1 worker, prefork --concurrency {CONCURRENCY}, prefetch x4, Redis results"
    configurations = {  # noqa: RUF012
        "start_throughput": "delay() from {c} threads, 1 process",
        "bulk_cancel": "control.purge()",
    }
    not_applicable = {  # noqa: RUF012
        "lookup_latency": "not measured (a state is one Redis key read: O(1) at any count)",
        "worker_rss": (
            "prefork runs one job per child process: 1,000 waiting jobs need 1,000 processes"
        ),
        "flow_work": "a task queue: no flow engine to run the example flow",
    }

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self.broker_db = redis_common.claim(redis_common.CELERY_BROKER_DB)
        self.results_db = redis_common.claim(redis_common.CELERY_RESULTS_DB)
        self.broker = redis_common.url(redis_common.CELERY_BROKER_DB)
        self.backend = redis_common.url(redis_common.CELERY_RESULTS_DB)
        self.app = make_app(self.broker, self.backend)

    def teardown(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.broker_db.flushdb()
        self.results_db.flushdb()

    def finished(self) -> int:
        return int(self.results_db.dbsize())

    def workers(self, stack: ExitStack) -> None:
        args = procs.python(
            "-m", "celery", "-A", "systems.celery_app", "worker", "--pool=prefork",
            f"--concurrency={CONCURRENCY}", "--loglevel=WARNING",
            f"--hostname=bench-{uuid.uuid4().hex[:6]}@%h",
        )  # fmt: skip
        env = self.ctx.env() | {BROKER_ENV: self.broker, BACKEND_ENV: self.backend}
        stack.enter_context(procs.spawn(f"{self.key}-worker", args, env, self.ctx.log_dir))

    def enqueue_load(self, total: int) -> float:
        shares = parallel.split(total, self.ctx.client_processes)
        callers = max(1, self.ctx.connections // self.ctx.client_processes)
        args = [(self.broker, self.backend, s, callers) for s in shares]
        return parallel.run(_enqueue, args, measure.budget(total)).rate

    def fill(self, total: int) -> None:
        task = self.app.tasks["noop"]
        for _ in range(total):
            task.delay()

    def warm_up(self) -> None:
        tag = uuid.uuid4().hex
        self.app.tasks["touch"].delay(tag)
        self.ctx.probe.wait_for(tag, "start", timeout=60)

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
            return measure.completion_rate(self.finished, total, measure.budget(total))

    def end_to_end(self) -> float:
        self.reset()
        total = self.ctx.sizes.end_to_end_jobs
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            measure.wait_count(self.finished, 1, 30)  # the warm-up's own result
            started = time.monotonic()
            self.enqueue_load(total)
            return (
                measure.wait_count(lambda: self.finished() - 1, total, measure.budget(total))
                - started
            )

    def dispatch_latency(self) -> list[float]:
        self.reset()
        returned: dict[str, float] = {}
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            touch = self.app.tasks["touch"]
            tick = measure.paced(self.ctx.sizes.dispatch_jobs, 0.02)
            for i in range(self.ctx.sizes.dispatch_jobs):
                tick(i)
                tag = uuid.uuid4().hex
                touch.delay(tag)
                returned[tag] = time.monotonic()
            return [self.ctx.probe.wait_for(t, "start") - r for t, r in returned.items()]

    def cancel_latency(self) -> list[float]:
        """Stopped = the result backend shows REVOKED (the worker writes it once
        it has terminated the child process running the task)."""
        self.reset()
        samples = []
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            for _ in range(self.ctx.sizes.cancel_jobs):
                tag = uuid.uuid4().hex
                result = self.app.tasks["sleep"].delay(tag)
                self.ctx.probe.wait_for(tag, "start")
                sent = time.monotonic()
                self.app.control.revoke(result.id, terminate=True)
                samples.append(measure.poll_until(lambda r=result: _revoked(r), 30) - sent)
        return samples

    def bulk_cancel(self) -> float:
        self.reset()
        total = self.ctx.sizes.bulk_cancel_jobs
        self.fill(total)
        sent = time.monotonic()
        purged = self.app.control.purge()
        took = time.monotonic() - sent
        if purged != total:
            raise RuntimeError(f"purge discarded {purged} of {total} messages")
        return took


def _revoked(result: Any) -> bool:
    return bool(result.state == "REVOKED")
