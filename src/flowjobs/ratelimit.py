"""Per-key token buckets: how many jobs one API key may start, per process.

Each key id gets a bucket of ``burst`` tokens that refills at ``rate`` tokens a
second; a start takes one token, and with none left the caller learns how long
until the next one. Buckets live in one process's memory (no database round
trip on the start path), so N API processes behind a load balancer allow up to
N times the rate in total; docs/operations.md says so.

Written here rather than taken from a library: the whole algorithm is the ten
lines of ``take``, and the libraries at hand count fixed or moving windows,
which cannot tell a client the exact ``Retry-After``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float  # the clock when ``tokens`` was last brought up to date


class KeyRateLimiter:
    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be above 0 and burst at least 1")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key_id: str) -> float:
        """Take one token of ``key_id``'s bucket: 0.0 when it was there, else
        the seconds until one will be (nothing is taken then)."""
        now = self._clock()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate
