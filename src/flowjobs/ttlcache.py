"""TtlCache: a process's short-lived memory of lookups every request repeats.

Used by the catalog (API keys), the manager (spaces, rule versions) and the
solver (published versions). Pure asyncio: no flowjobs imports.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

MISSING: Any = object()  # what ``get`` answers for a key it does not hold


class TtlCache:
    """A process's short-lived memory of lookups that every request repeats
    (API keys, spaces, rule versions). An entry serves for ``seconds`` and
    only while ``generation()`` is unchanged: the store bumps it whenever this
    process writes spaces, keys or rules, so local changes apply at once and
    changes by other processes within ``seconds``. Negative answers (None)
    are kept too, so a flood of bad keys costs no more reads than good ones."""

    def __init__(
        self, seconds: float, generation: Callable[[], int], *, capacity: int = 10_000
    ) -> None:
        self.seconds = seconds
        self.generation = generation
        self.capacity = capacity
        self._entries: dict[Hashable, tuple[float, int, Any]] = {}
        self._reading: dict[Hashable, asyncio.Future[Any]] = {}

    def get(self, key: Hashable) -> Any:
        """The cached value (None included), or ``MISSING``."""
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        expires, generation, value = entry
        if expires < time.monotonic() or generation != self.generation():
            del self._entries[key]
            return MISSING
        return value

    def put(self, key: Hashable, value: Any, generation: int) -> None:
        """Remember ``value``, read when the generation was ``generation``."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.capacity:
            self._entries.clear()  # rare; simpler and cheaper than LRU bookkeeping
        self._entries[key] = (time.monotonic() + self.seconds, generation, value)

    async def lookup(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value, or ``read()``'s; concurrent misses of one key share
        one read, so an expiry under load costs one query, not one per request."""
        value = self.get(key)
        if value is not MISSING:
            return value
        pending = self._reading.get(key)
        if pending is not None:
            value = await asyncio.shield(pending)
            if value is not MISSING:
                return value  # else the shared read failed: read on our own
            return await read()
        generation = self.generation()  # before the read: a write during it voids the entry
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._reading[key] = future
        value = MISSING
        try:
            value = await read()
        finally:
            del self._reading[key]
            future.set_result(value)
        self.put(key, value, generation)
        return value
