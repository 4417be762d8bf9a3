"""Job ids: time-ordered UUIDs (version 7, RFC 9562), as canonical text.

A job id is the primary key of ``jobs`` (a B-tree on the text). Random
(version 4) ids put each new job, and each new row version a non-HOT update
writes (an end, a cancel), on a random leaf page of that index: with many jobs,
random page reads, and after each checkpoint a full-page image in the WAL for
nearly every row touched. A version 7 id starts with the Unix time in
milliseconds, so jobs created together sit together in the index, and a bulk
cancel of them touches a few pages in order. The text is still a UUID string
(8-4-4-4-12 lower-case hex) that any UUID parser accepts.

Layout (128 bits): 48-bit Unix ms | version 7 (4 bits) | 12-bit ``rand_a`` |
variant 0b10 (2 bits) | 62 random bits. Within a process ``rand_a`` counts up
inside one millisecond (RFC 9562 §6.2, method 1), so ids made one after the
other sort in the order they were made; the counter starts at a random value
below 2048, leaving at least 2048 ids a millisecond before it borrows the next
one. Pure: no flowjobs imports.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime

_MAX_MS = (1 << 48) - 1
_MAX_RAND_A = (1 << 12) - 1
_RAND_B_BITS = 62
_VERSION = 7
_VARIANT = 0b10


def uuid7(unix_ms: int, rand_a: int, rand_b: int) -> uuid.UUID:
    """The version 7 UUID of these fields (each must fit its width)."""
    if not 0 <= unix_ms <= _MAX_MS:
        raise ValueError(f"unix_ms out of range: {unix_ms}")
    if not 0 <= rand_a <= _MAX_RAND_A:
        raise ValueError(f"rand_a out of range: {rand_a}")
    if not 0 <= rand_b < 1 << _RAND_B_BITS:
        raise ValueError(f"rand_b out of range: {rand_b}")
    value = (
        unix_ms << 80
        | _VERSION << 76
        | rand_a << 64
        | _VARIANT << _RAND_B_BITS
        | rand_b
    )  # fmt: skip
    return uuid.UUID(int=value)


def unix_ms_of(value: str) -> int:
    """The millisecond timestamp a version 7 id carries."""
    return uuid.UUID(value).int >> 80


def _random_bits(bits: int) -> int:
    return int.from_bytes(os.urandom(8), "big") >> (64 - bits)


class _MonotonicClock:
    """Hands out (unix_ms, rand_a) pairs that only go up, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ms = -1
        self._counter = 0

    def next(self, now_ms: int) -> tuple[int, int]:
        with self._lock:
            if now_ms > self._ms:
                self._ms, self._counter = now_ms, _random_bits(11)
            elif self._counter < _MAX_RAND_A:
                self._counter += 1  # same (or an earlier: clock stepped back) ms
            else:  # 4096 ids in one ms: borrow the next one
                self._ms, self._counter = self._ms + 1, _random_bits(11)
            return self._ms, self._counter


_clock = _MonotonicClock()


def new_job_id() -> str:
    """A fresh job id: after every id this process made before, to the ms of now."""
    unix_ms, rand_a = _clock.next(time.time_ns() // 1_000_000)
    return str(uuid7(unix_ms, rand_a, _random_bits(_RAND_B_BITS)))


def job_id_at(moment: datetime) -> str:
    """A version 7 id for a job created at ``moment`` (an aware datetime), for
    rows written outside the API (benchmark fills); not monotonic within a ms."""
    unix_ms = int(moment.timestamp() * 1000)
    return str(uuid7(unix_ms, _random_bits(12), _random_bits(_RAND_B_BITS)))


def is_uuid(value: str) -> bool:
    """Whether ``value`` is a UUID in any form ``uuid.UUID`` reads (a job id
    never is anything else, so other text needs no query)."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
