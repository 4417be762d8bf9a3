"""Redis databases of the Redis-based peers: each peer gets its own database
numbers on 127.0.0.1:6379, which must be empty when the run starts (so the
bench never flushes someone else's data) and are flushed at the end."""

from __future__ import annotations

import redis

from systems import REDIS

CELERY_BROKER_DB, CELERY_RESULTS_DB, RQ_DB, RQ_SIMPLE_DB = 11, 12, 13, 14


def claim(db: int) -> redis.Redis:
    """A client of database ``db``, checked to be empty."""
    client = redis.Redis.from_url(f"{REDIS}/{db}", socket_timeout=30)
    if client.dbsize():
        raise RuntimeError(f"Redis database {db} is not empty: refusing to use it")
    return client


def url(db: int) -> str:
    return f"{REDIS}/{db}"
