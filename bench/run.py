"""The benchmark: flowjobs on SQLite and PostgreSQL beside procrastinate,
pgqueuer, Celery (Redis) and RQ, and the limits of a bare FastAPI app.

Every metric is measured for every system in turns (system order rotated on
each repeat, so drift of the busy machine hits all alike), ``--repeats``
times, then one table is printed and written to ``bench/results/latest.md``
with the core count and the versions used. See docs/performance.md.

Usage: ``python bench/run.py [--quick] [--systems a,b] [--metrics a,b]``
(``make bench``, ``make bench-quick``). Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import limits
import measure
import versions
from metrics import BY_KEY, METRICS, Metric, Sizes
from probe import Receiver
from report import Row, markdown
from systems import Context, System

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"


def all_systems() -> list[Callable[[], System]]:
    from systems.celery_redis import CeleryRedis
    from systems.flowjobs_pg import FlowjobsPg
    from systems.flowjobs_sqlite import FlowjobsSqlite
    from systems.pgqueuer import Pgqueuer
    from systems.procrastinate import Procrastinate
    from systems.rq import RqSimpleWorker, RqWorker

    return [
        limits.LoadgenCeiling,
        limits.FastApiNoop,
        limits.FastApiInsert,
        FlowjobsSqlite,
        FlowjobsPg,
        Procrastinate,
        Pgqueuer,
        CeleryRedis,
        RqWorker,
        RqSimpleWorker,
    ]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Run:
    def __init__(self, systems: list[System], metrics: list[Metric], ctx: Context) -> None:
        self.systems = systems
        self.metrics = metrics
        self.ctx = ctx
        self.samples: dict[tuple[str, str], list[float | list[float]]] = {}
        self.notes: dict[tuple[str, str], str] = {}
        self.broken: dict[str, str] = {}
        self.finished: list[Metric] = []  # measured for every system, in order

    def setup(self, stack: ExitStack) -> None:
        for system in self.systems:
            log(f"setting up {system.name}")
            try:
                system.setup(self.ctx)
            except Exception as exc:
                self.broken[system.key] = f"setup failed: {exc}"
                log(f"  {system.name}: {self.broken[system.key]}")
                traceback.print_exc()
                continue
            stack.callback(system.teardown)

    def measure_all(self, after_each: Callable[[], None]) -> None:
        for metric in self.metrics:
            for repeat in range(self.ctx.sizes.repeats):
                shift = repeat % len(self.systems)
                for system in self.systems[shift:] + self.systems[:shift]:
                    self.measure_one(metric, system, repeat)
            self.finished.append(metric)
            after_each()

    def measure_one(self, metric: Metric, system: System, repeat: int) -> None:
        key = (metric.key, system.key)
        if not system.applies(metric.key) or system.key in self.broken:
            return
        if metric.key in system.not_applicable:
            self.notes[key] = f"n/a: {system.not_applicable[metric.key]}"
            return
        log(f"{metric.title} / {system.name} / repeat {repeat + 1}")
        started = time.monotonic()
        try:
            value = getattr(system, metric.key)()
        except Exception as exc:
            self.notes[key] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            log(f"  {self.notes[key]}")
            traceback.print_exc()
            return
        if value is None:
            self.notes[key] = "n/a"
            return
        self.samples.setdefault(key, []).append(value)
        log(f"  {describe(value)} in {time.monotonic() - started:.1f} s")

    def rows(self) -> list[Row]:
        rows = []
        for metric in self.finished:
            for label, fraction in metric.rows():
                for system in self.systems:
                    if system.applies(metric.key):
                        rows.append(self.row(metric, label, fraction, system))
        return rows

    def row(self, metric: Metric, label: str, fraction: float | None, system: System) -> Row:
        key = (metric.key, system.key)
        values = [reduce(v, fraction) for v in self.samples.get(key, [])]
        note = self.notes.get(key, self.broken.get(system.key, ""))
        return Row(
            label,
            metric.higher_is_better,
            system.name,
            system.configuration_for(metric.key),
            system.is_flowjobs,
            values,
            note,
        )


def reduce(value: float | list[float], fraction: float | None) -> float:
    """One repeat's figure: the number itself, or a percentile of latency
    samples (seconds) in milliseconds."""
    if isinstance(value, list):
        return measure.percentile(value, fraction if fraction is not None else 0.5) * 1000
    return value


def describe(value: float | list[float]) -> str:
    if isinstance(value, list):
        ms = [v * 1000 for v in value]
        return f"{len(ms)} samples, p50 {measure.percentile(ms, 0.5):.2f} ms"
    return f"{value:,.2f}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small counts (make bench-quick)")
    parser.add_argument("--systems", default="", help="comma-separated keys (default: all)")
    parser.add_argument("--metrics", default="", help="comma-separated keys (default: all)")
    parser.add_argument("--repeats", type=int, default=None, help="at least 3 (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="10..50 (default 32)")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.repeats is not None and args.repeats < 3:
        parser.error("--repeats: at least 3")
    if not 10 <= args.connections <= 50:
        parser.error("--connections: 10 to 50")
    return args


def choose(args: argparse.Namespace) -> tuple[list[System], list[Metric]]:
    systems = [factory() for factory in all_systems()]
    if args.systems:
        wanted = set(args.systems.split(","))
        unknown = wanted - {s.key for s in systems}
        if unknown:
            sys.exit(f"unknown systems {sorted(unknown)}; known: {[s.key for s in systems]}")
        systems = [s for s in systems if s.key in wanted]
    metrics = METRICS
    if args.metrics:
        wanted = args.metrics.split(",")
        unknown = set(wanted) - set(BY_KEY)
        if unknown:
            sys.exit(f"unknown metrics {sorted(unknown)}; known: {list(BY_KEY)}")
        metrics = [m for m in METRICS if m.key in wanted]
    return systems, metrics


def main() -> None:
    # SIGTERM (a timeout, Ctrl-C's cousin) unwinds like SystemExit, so every
    # process and database of the run is cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    systems, metrics = choose(args)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    if args.repeats:
        sizes = dataclasses.replace(sizes, repeats=args.repeats)
    began = time.monotonic()
    with ExitStack() as stack:
        probe = Receiver()
        stack.callback(probe.close)
        log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="flowjobs-bench-")))
        ctx = Context(probe, log_dir, sizes, args.connections, args.client_processes)
        run = Run(systems, metrics, ctx)
        run.setup(stack)

        def write() -> str:
            """The results file with every metric measured so far (rewritten
            after each metric: a run stopped midway still leaves its table)."""
            table = markdown(run.rows())
            done = f"{len(run.finished)} of {len(metrics)}"
            text = versions.results_document(
                table, systems, sizes, args, time.monotonic() - began, os.cpu_count(), done
            )
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text)
            log(f"wrote {args.output} (metrics: {done})")
            return table

        run.measure_all(after_each=write)
    print("\n" + write())


if __name__ == "__main__":
    main()
