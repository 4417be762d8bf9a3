"""RQ on Redis: two ``rq worker`` processes (one per core), with the default
forking ``Worker`` (a work horse process per job) or with ``SimpleWorker``
(jobs in the worker process itself)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import measure
import parallel
import procs
import redis
from rq import Queue
from rq.command import send_stop_job_command
from rq.job import Job
from rq.registry import FinishedJobRegistry

from systems import Context, System, redis_common, rq_tasks

WORKERS = 2
FILL_BATCH = 1000


def _enqueue(args: tuple[str, int, int], ready: Callable[[], None]) -> parallel.Span:
    """A load process: ``total`` ``enqueue()`` calls from ``callers`` threads."""
    url, total, callers = args
    queue = Queue(connection=redis.Redis.from_url(url, max_connections=callers * 2))
    queue.connection.ping()

    def caller(count: int) -> None:
        for _ in range(count):
            queue.enqueue(rq_tasks.noop)

    ready()
    start = time.monotonic()
    with ThreadPoolExecutor(callers) as pool:
        list(pool.map(caller, parallel.split(total, callers)))
    return parallel.Span(total, start, time.monotonic())


class RqWorker(System):
    key = "rq"
    name = "RQ"
    worker_class = "rq.worker.Worker"
    db = redis_common.RQ_DB
    configuration = f"{WORKERS} x rq worker (forking Worker)"
    configurations = {  # noqa: RUF012
        "start_throughput": "enqueue() from {c} threads, 1 process",
        "bulk_cancel": "Queue.empty()",
    }
    not_applicable = {  # noqa: RUF012
        "lookup_latency": "not measured (a job is one Redis hash read: O(1) at any count)",
        "worker_rss": "a worker runs one job at a time: 1,000 waiting jobs need 1,000 workers",
        "flow_work": "a task queue: no flow engine to run the example flow",
    }

    def setup(self, ctx: Context) -> None:
        super().setup(ctx)
        self.redis = redis_common.claim(self.db)
        self.url = redis_common.url(self.db)
        self.queue = Queue(connection=self.redis)

    def teardown(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.redis.flushdb()

    def finished(self) -> int:
        return FinishedJobRegistry(queue=self.queue).count

    def workers(self, stack: ExitStack) -> None:
        for index in range(WORKERS):
            args = procs.python(
                "-m", "rq.cli", "worker", "--url", self.url, "--worker-class",
                self.worker_class, "--logging_level", "WARNING",
            )  # fmt: skip
            stack.enter_context(
                procs.spawn(f"{self.key}-worker{index}", args, self.ctx.env(), self.ctx.log_dir)
            )

    def enqueue_load(self, total: int) -> float:
        shares = parallel.split(total, self.ctx.client_processes)
        callers = max(1, self.ctx.connections // self.ctx.client_processes)
        return parallel.run(
            _enqueue, [(self.url, s, callers) for s in shares], measure.budget(total)
        ).rate

    def fill(self, total: int) -> None:
        for start in range(0, total, FILL_BATCH):
            size = min(FILL_BATCH, total - start)
            self.queue.enqueue_many([Queue.prepare_data(rq_tasks.noop) for _ in range(size)])

    def warm_up(self) -> None:
        tag = uuid.uuid4().hex
        self.queue.enqueue(rq_tasks.touch, tag)
        self.ctx.probe.wait_for(tag, "start", timeout=60)
        measure.wait_count(self.finished, 1, 30)

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
            tick = measure.paced(self.ctx.sizes.dispatch_jobs, 0.02)
            for i in range(self.ctx.sizes.dispatch_jobs):
                tick(i)
                tag = uuid.uuid4().hex
                self.queue.enqueue(rq_tasks.touch, tag)
                returned[tag] = time.monotonic()
            return [self.ctx.probe.wait_for(t, "start") - r for t, r in returned.items()]

    def cancel_latency(self) -> list[float] | None:
        """Stopped = the job's status reads ``stopped`` (the worker sets it after
        killing the work horse)."""
        self.reset()
        samples = []
        with ExitStack() as stack:
            self.workers(stack)
            self.warm_up()
            for _ in range(self.ctx.sizes.cancel_jobs):
                tag = uuid.uuid4().hex
                job = self.queue.enqueue(rq_tasks.sleep, tag, job_timeout=900)
                self.ctx.probe.wait_for(tag, "start")
                sent = time.monotonic()
                send_stop_job_command(self.redis, job.id)
                samples.append(measure.poll_until(lambda j=job: _stopped(j), 30) - sent)
        return samples

    def bulk_cancel(self) -> float:
        self.reset()
        total = self.ctx.sizes.bulk_cancel_jobs
        self.fill(total)
        sent = time.monotonic()
        emptied = self.queue.empty()
        took = time.monotonic() - sent
        if emptied != total:
            raise RuntimeError(f"empty() removed {emptied} of {total} jobs")
        return took


def _stopped(job: Job) -> bool:
    return job.get_status(refresh=True) == "stopped"


class RqSimpleWorker(RqWorker):
    key = "rq_simple"
    name = "RQ SimpleWorker"
    worker_class = "rq.worker.SimpleWorker"
    db = redis_common.RQ_SIMPLE_DB
    configuration = f"{WORKERS} x rq worker --worker-class SimpleWorker (no fork)"
    not_applicable = RqWorker.not_applicable | {
        "cancel_latency": "cannot stop a running job: SimpleWorker has no work horse to kill",
    }
