"""Prometheus metrics of one process.

Each process (API, worker, or both) counts what it did itself: jobs it
started, ended, claimed and ran, webhooks it delivered, requests it answered.
Prometheus scrapes every process and sums. The queue gauges are different:
they are read from the database at scrape time, so any process reports the
whole queue correctly; aggregate them with ``max``, not ``sum``.

One :class:`Metrics` per process, with a registry of its own (no global
state at import), built by the app factory or the runtime and handed down.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from flowjobs.domain import ACTIVE_STATES, JobState, Status

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds from start to claim: milliseconds when workers are idle, minutes in a backlog.
DISPATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)
# Seconds from claim to end: a quick flow to the 24 h execution limit.
DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# (space name, state or None, jobs), as the store's GROUP BY answers it
QueueRow = tuple[str, JobState | None, int]


class ScrapeGauges(Collector):
    """Gauges set at each scrape: ``flowjobs_jobs_waiting`` and
    ``flowjobs_jobs_running`` per space from the scrape's query (RUNNING and
    CANCELING count as running: both hold a slot of the space's parallel
    limit), whether that query answered, and this process's open waiters."""

    def __init__(self) -> None:
        self.rows: Sequence[QueueRow] = ()
        self.database_up = True
        self.waiters = 0

    def collect(self) -> Iterator[Metric]:
        waiting = GaugeMetricFamily(
            "flowjobs_jobs_waiting", "Jobs waiting to be claimed, per space", labels=["space"]
        )
        running = GaugeMetricFamily(
            "flowjobs_jobs_running",
            "Jobs running or canceling (holding a slot), per space",
            labels=["space"],
        )
        for space, (n_waiting, n_running) in sorted(self._per_space().items()):
            waiting.add_metric([space], n_waiting)
            running.add_metric([space], n_running)
        yield waiting
        yield running
        yield GaugeMetricFamily(
            "flowjobs_waiters",
            "Long-polls and event streams open in this process (capped by FLOWJOBS_MAX_WAITERS)",
            value=self.waiters,
        )
        yield GaugeMetricFamily(
            "flowjobs_database_up",
            "1 when the last scrape's queue query answered, else 0",
            value=1 if self.database_up else 0,
        )

    def _per_space(self) -> dict[str, tuple[int, int]]:
        depth: dict[str, tuple[int, int]] = {}
        for space, state, count in self.rows:
            n_waiting, n_running = depth.get(space, (0, 0))
            if state is JobState.WAITING:
                n_waiting += count
            elif state in ACTIVE_STATES:
                n_running += count
            depth[space] = (n_waiting, n_running)
        return depth

    def describe(self) -> Iterable[Metric]:
        return []  # generated per scrape; nothing to check at registration


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.jobs_started = Counter(
            "flowjobs_jobs_started", "Jobs started (re-runs included)", registry=registry
        )
        self.jobs_finished = Counter(
            "flowjobs_jobs_finished",
            "Jobs that reached a final state, by state and status code",
            ["state", "code"],
            registry=registry,
        )
        self.claims = Counter("flowjobs_claims", "Jobs claimed by workers", registry=registry)
        self.lease_expiries = Counter(
            "flowjobs_lease_expiries",
            "Running jobs whose worker stopped renewing the lease, by what became of them",
            ["outcome"],  # zombie, requeued, canceled
            registry=registry,
        )
        self.dispatch_latency = Histogram(
            "flowjobs_dispatch_latency_seconds",
            "From a job's start (or re-queue) to its claim by a worker",
            buckets=DISPATCH_BUCKETS,
            registry=registry,
        )
        self.job_duration = Histogram(
            "flowjobs_job_duration_seconds",
            "From claim to end, of the jobs this worker ran",
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.webhook_deliveries = Counter(
            "flowjobs_webhook_deliveries",
            "Webhook delivery attempts, by outcome",
            ["outcome"],  # delivered, retry, failed
            registry=registry,
        )
        self.http_requests = Counter(
            "flowjobs_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "flowjobs_http_request_duration_seconds",
            "HTTP request duration until the response ended (long-polls and event "
            "streams included), by route template and method",
            ["route", "method"],
            buckets=HTTP_BUCKETS,
            registry=registry,
        )
        # A request's counter and histogram by (route template, method, status):
        # ``labels()`` validates and locks on every call, a few per cent of a
        # start's CPU. Bounded like the labels themselves (route templates,
        # not paths).
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.queue = ScrapeGauges()
        registry.register(self.queue)
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)

    def finished(self, status: Status, count: int = 1) -> None:
        if count:
            self.jobs_finished.labels(status.state.value, status.code.value).inc(count)

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self.http_requests.labels(route, method, str(status)),
                self.http_duration.labels(route, method),
            )
        counter, duration = children
        counter.inc()
        duration.observe(seconds)

    def render(self, queue: Sequence[QueueRow] | None, waiters: int) -> bytes:
        """The text exposition; ``queue`` None when the database did not answer."""
        self.queue.rows = queue or ()
        self.queue.database_up = queue is not None
        self.queue.waiters = waiters
        return generate_latest(self.registry)
