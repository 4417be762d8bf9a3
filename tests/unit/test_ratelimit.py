"""The per-key token bucket of job starts, on a clock the test moves by hand."""

from __future__ import annotations

import pytest

from flowjobs.ratelimit import KeyRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_the_rate_with_the_wait_until_the_next_token() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == pytest.approx(0.5)  # 2 a second: one every 0.5 s
    clock.now += 0.25
    assert limiter.take("k") == pytest.approx(0.25)  # a refused start takes nothing
    clock.now += 0.25
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == pytest.approx(0.5)


def test_keys_have_buckets_of_their_own() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(1.0, 1, clock=clock)
    assert limiter.take("a") == 0.0
    assert limiter.take("a") == pytest.approx(1.0)
    assert limiter.take("b") == 0.0


def test_an_idle_bucket_refills_up_to_the_burst_only() -> None:
    clock = Clock()
    limiter = KeyRateLimiter(10.0, 2, clock=clock)
    limiter.take("k")
    clock.now += 3600
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.1)]


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        KeyRateLimiter(rate, burst)
