"""TtlCache: what voids an entry (the store's generation), negative entries,
and one shared read for concurrent misses. No clock is involved here."""

from __future__ import annotations

import asyncio

from flowjobs.ttlcache import TtlCache


class Reads:
    def __init__(self) -> None:
        self.count = 0
        self.generation = 0

    async def read(self) -> str | None:
        self.count += 1
        await asyncio.sleep(0)
        return None if self.count == 1 else f"value {self.count}"


async def test_an_entry_serves_until_the_generation_moves() -> None:
    reads = Reads()
    cache = TtlCache(60.0, lambda: reads.generation)
    assert await cache.lookup("k", reads.read) is None  # a negative answer, kept
    assert await cache.lookup("k", reads.read) is None
    assert reads.count == 1
    reads.generation += 1  # this process wrote spaces, keys or rules
    assert await cache.lookup("k", reads.read) == "value 2"
    assert reads.count == 2


async def test_zero_seconds_turns_the_cache_off() -> None:
    reads = Reads()
    cache = TtlCache(0.0, lambda: 0)
    for _ in range(3):
        await cache.lookup("k", reads.read)
    assert reads.count == 3


async def test_concurrent_misses_share_one_read() -> None:
    reads = Reads()
    cache = TtlCache(60.0, lambda: 0)
    found = await asyncio.gather(*(cache.lookup("k", reads.read) for _ in range(10)))
    assert found == [None] * 10
    assert reads.count == 1


async def test_a_failed_shared_read_is_retried_by_each_waiter() -> None:
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        if calls == 1:
            raise RuntimeError("database down")
        return "ok"

    cache = TtlCache(60.0, lambda: 0)
    found = await asyncio.gather(
        *(cache.lookup("k", flaky) for _ in range(3)), return_exceptions=True
    )
    assert isinstance(found[0], RuntimeError)
    assert found[1:] == ["ok", "ok"]
