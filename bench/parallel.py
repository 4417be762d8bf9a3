"""Run one load in child processes that start together, and time it.

Each child process runs ``target(args, ready)``: it sets itself up (connects,
imports), calls ``ready()`` (a barrier: every child and the parent wait there,
so set-up time is not measured), does its work and returns a :class:`Span`.
The parent gathers them: the load took from the earliest start to the latest
end (``time.monotonic()`` is one clock for every process on Linux).
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Target = Callable[[Any, Callable[[], None]], "Span"]


@dataclass
class Span:
    """What one child did: ``done`` operations between ``start`` and ``end``."""

    done: int
    start: float
    end: float
    cpu_seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass
class Load:
    """All children together."""

    done: int
    seconds: float
    cpu_seconds: float
    statuses: dict[int, int]

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


def _child(target: Target, args: Any, barrier: Any, results: Any) -> None:
    try:
        span = target(args, lambda: barrier.wait(timeout=120))
        results.put(("ok", span))
    except BaseException as exc:  # reported to the parent, which raises it
        barrier.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def run(target: Target, args_per_process: list[Any], timeout: float) -> Load:
    """Runs ``target`` once per element of ``args_per_process``, each in its own
    process; waits at most ``timeout`` seconds for all of them."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args_per_process) + 1)
    results = ctx.Queue()
    children = [
        ctx.Process(target=_child, args=(target, args, barrier, results), daemon=True)
        for args in args_per_process
    ]
    for child in children:
        child.start()
    try:
        barrier.wait(timeout=120)
        spans = _collect(results, len(children), timeout)
    finally:
        for child in children:
            child.join(timeout=5)
            if child.is_alive():
                child.kill()
                child.join(timeout=5)
    statuses: dict[int, int] = {}
    for span in spans:
        for status, count in span.statuses.items():
            statuses[status] = statuses.get(status, 0) + count
    return Load(
        done=sum(s.done for s in spans),
        seconds=max(s.end for s in spans) - min(s.start for s in spans),
        cpu_seconds=sum(s.cpu_seconds for s in spans),
        statuses=statuses,
    )


def _collect(results: Any, count: int, timeout: float) -> list[Span]:
    deadline = time.monotonic() + timeout
    spans: list[Span] = []
    for _ in range(count):
        try:
            kind, value = results.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty as exc:
            raise TimeoutError(f"the load did not finish within {timeout} s") from exc
        if kind == "error":
            raise RuntimeError(f"a load process failed: {value}")
        spans.append(value)
    return spans


def split(total: int, parts: int) -> list[int]:
    """``total`` in ``parts`` nearly equal shares."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
