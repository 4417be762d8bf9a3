"""The nine measurements, their units, and which way is better.

A system answers a metric with one number per repeat (a rate, seconds, MB) or,
for latencies, a list of samples in seconds, which becomes one row per
percentile (p50, p95, p99), each in milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    key: str  # the System method is named after it
    title: str
    unit: str
    higher_is_better: bool
    percentiles: tuple[float, ...] = ()  # latency metrics: rows per percentile

    def rows(self) -> list[tuple[str, float | None]]:
        """(label, percentile or None) of the table rows this metric makes."""
        if not self.percentiles:
            return [(f"{self.title} ({self.unit})", None)]
        return [(f"{self.title} p{round(p * 100)} ({self.unit})", p) for p in self.percentiles]


METRICS = [
    Metric("start_throughput", "1. start throughput", "jobs/s", True),
    Metric("process_throughput", "2. processing throughput", "jobs/s", True),
    Metric("end_to_end", "3. end to end, wall", "s", False),
    Metric("dispatch_latency", "4. dispatch latency", "ms", False, (0.5, 0.95, 0.99)),
    Metric("cancel_latency", "5. cancel latency", "ms", False, (0.5, 0.99)),
    Metric("bulk_cancel", "6. bulk cancel", "s", False),
    Metric("lookup_latency", "7. lookup at scale", "ms", False, (0.5, 0.99)),
    Metric("worker_rss", "8. worker RSS", "MB", False),
    Metric("flow_work", "9. flow work (credit tiers)", "rows/s", True),
]
BY_KEY = {m.key: m for m in METRICS}


@dataclass(frozen=True)
class Sizes:
    """How much work each metric does; ``full`` for ``make bench``, ``quick`` for
    ``make bench-quick``."""

    start_jobs: int
    process_jobs: int
    end_to_end_jobs: int
    dispatch_jobs: int
    cancel_jobs: int
    bulk_cancel_jobs: int
    lookup_rows: int
    lookup_gets: int
    rss_jobs: int
    flow_rows: int
    flow_batch: int
    repeats: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(20_000, 20_000, 20_000, 200, 50, 100_000, 1_000_000, 1000, 1000, 2000, 500, 3)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(1000, 1000, 1000, 30, 10, 10_000, 100_000, 100, 300, 100, 100, 3)
