"""On PostgreSQL, GET /job/{id}'s lookup goes through psycopg itself
(JobQueries._get_job_pg): a connection that the server dropped fails at most
one lookup, and is then never handed out again."""

from __future__ import annotations

import psycopg
import pytest

from flowjobs.errors import StoreError
from flowjobs.store import SqlStore
from support.env import MakeEnv, flow

TERMINATE = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@pytest.fixture
def db_url(pg_url: str) -> str:
    return pg_url


async def test_lookups_recover_after_the_server_drops_the_connections(
    make_env: MakeEnv, db_url: str
) -> None:
    env = await make_env()
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    started = await env.manager.start(key, "f", None, {})
    store = SqlStore(db_url, pool_size=1, max_overflow=0)  # one connection, reused
    try:
        assert await store.get_job(started.id, space.id) == started
        with psycopg.connect(db_url, autocommit=True) as admin:
            assert admin.execute(TERMINATE).fetchone() != (0,)
        outcomes = []
        for _ in range(3):
            try:
                outcomes.append(await store.get_job(started.id, space.id) == started)
            except StoreError:  # the dead connection, seen once: it is then dropped
                outcomes.append(False)
        assert outcomes[1:] == [True, True], outcomes
    finally:
        await store.close()
