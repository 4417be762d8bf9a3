"""Timing helpers shared by every system: rates from a completion count,
latency summaries."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import procs

COUNT_POLL_SECONDS = 0.02


def completion_rate(count: Callable[[], int], total: int, timeout: float) -> float:
    """Jobs per second while workers drain a queue of ``total`` jobs.

    Polls ``count()`` (jobs completed so far) every 20 ms. The clock starts at
    the first poll that sees a completed job (so worker start-up is not
    counted) and stops at the first poll that sees all of them:
    ``(total - first count) / (last poll - first poll)``.
    """
    deadline = time.monotonic() + timeout
    first: tuple[float, int] | None = None
    for _ in range(int(timeout / COUNT_POLL_SECONDS) + 2):
        procs.assert_alive()
        done, now = count(), time.monotonic()
        if first is None and done > 0:
            first = (now, done)
        if done >= total:
            if first is None or first[1] >= total or now <= first[0]:
                raise RuntimeError("all jobs were done at the first look: use more jobs")
            return (total - first[1]) / (now - first[0])
        if now > deadline:
            break
        time.sleep(COUNT_POLL_SECONDS)
    raise TimeoutError(f"{total} jobs not completed within {timeout} s")


def wait_count(count: Callable[[], int], total: int, timeout: float) -> float:
    """``time.monotonic()`` at the first poll (every 20 ms) that sees ``count() >= total``."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / COUNT_POLL_SECONDS) + 2):
        procs.assert_alive()
        if count() >= total:
            return time.monotonic()
        if time.monotonic() > deadline:
            break
        time.sleep(COUNT_POLL_SECONDS)
    raise TimeoutError(f"count did not reach {total} within {timeout} s")


def poll_until(check: Callable[[], bool], timeout: float, interval: float = 0.002) -> float:
    """``time.monotonic()`` at the first call of ``check`` that is true (every 2 ms)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        if check():
            return time.monotonic()
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"not observed within {timeout} s")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def summary(values: list[float]) -> tuple[float, float, float]:
    """Median, min and max."""
    return statistics.median(values), min(values), max(values)


def paced(count: int, interval: float) -> Callable[[int], None]:
    """A function that sleeps until the i-th tick (``interval`` apart) after its creation."""
    origin = time.monotonic()

    def wait(i: int) -> None:
        delay = origin + i * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    return wait


def spread(low: int, high: int, count: int) -> list[int]:
    """``count`` integers spread evenly over ``low..high``."""
    step = max(1, (high - low) // max(1, count - 1))
    return list(range(low, high + 1, step))[:count]


def budget(jobs: int) -> float:
    """Seconds a wait for ``jobs`` jobs may take: 10 minutes, or more for
    a system slower than 20 jobs/s on a busy machine."""
    return max(600.0, jobs / 20)
