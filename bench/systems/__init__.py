"""One module per system under test, all behind :class:`System`.

A system is set up once per run (its own fresh PostgreSQL database or Redis
database number on 127.0.0.1) and torn down at the end. Each metric method
starts the processes it needs, measures, and stops them. A metric that does
not apply returns None and names its reason in ``not_applicable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from metrics import Sizes
from probe import Receiver

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379"


@dataclass
class Context:
    """What the run hands every system."""

    probe: Receiver
    log_dir: Path
    sizes: Sizes
    connections: int = 32  # concurrent HTTP connections / enqueue callers
    client_processes: int = 1  # load-generator (or enqueue) processes
    pg_admin: str = PG_ADMIN
    redis: str = REDIS

    def env(self) -> dict[str, str]:
        """Environment every process of a system gets."""
        return {"BENCH_PROBE_ADDR": self.probe.address}


class System:
    key = "system"
    name = "system"
    configuration = ""
    is_flowjobs = False
    only: frozenset[str] | None = None  # if set: the only metrics it appears in
    not_applicable: dict[str, str] = {}  # noqa: RUF012 - read-only class data
    # metric -> configuration where it differs; {n}: jobs held (metric 8),
    # {c}: concurrent connections / callers
    configurations: dict[str, str] = {}  # noqa: RUF012

    def configuration_for(self, metric: str) -> str:
        text = self.configurations.get(metric, self.configuration)
        return text.format(n=self.ctx.sizes.rss_jobs, c=self.ctx.connections)

    def setup(self, ctx: Context) -> None:
        self.ctx = ctx

    def teardown(self) -> None:
        return None

    def applies(self, metric: str) -> bool:
        return self.only is None or metric in self.only

    # Each returns None when it does not apply (see ``not_applicable``).
    def start_throughput(self) -> float | None:
        return None

    def process_throughput(self) -> float | None:
        return None

    def end_to_end(self) -> float | None:
        return None

    def dispatch_latency(self) -> list[float] | None:
        return None

    def cancel_latency(self) -> list[float] | None:
        return None

    def bulk_cancel(self) -> float | None:
        return None

    def lookup_latency(self) -> list[float] | None:
        return None

    def worker_rss(self) -> float | None:
        return None

    def flow_work(self) -> float | None:
        return None
