"""The per-process caches of API keys, spaces and rule versions (manager's
TtlCache): a change by another process holds within the TTL, a change by this
process at once. Two Envs on one database stand for two processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from flowjobs.domain import KeyKind
from flowjobs.errors import UnauthorizedError
from flowjobs.store import sync_url
from flowjobs.store.tables import api_keys
from support.env import MakeEnv, flow

TTL = 0.2  # seconds; the tests wait a little longer than this, never a fixed deadline


def revoke_elsewhere(db_url: str, key_id: str) -> None:
    """What another process's ``flowjobs key revoke`` does to the row."""
    engine = sa.create_engine(sync_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(
                api_keys.update()
                .where(api_keys.c.id == key_id)
                .values(revoked_at=datetime.now(UTC))
            )
    finally:
        engine.dispose()


async def test_a_key_revoked_by_another_process_stops_working_within_the_ttl(
    make_env: MakeEnv, db_url: str
) -> None:
    api = await make_env(key_cache_seconds=TTL)
    _space, _key = await api.space_with_key("cache-revoke")
    created = await api.catalog.create_key(_space.id, KeyKind.SOLVER, "to revoke")
    assert (await api.catalog.authenticate(created.secret)).id == created.key.id  # now cached
    await asyncio.to_thread(revoke_elsewhere, db_url, created.key.id)
    await asyncio.sleep(TTL * 1.5)
    with pytest.raises(UnauthorizedError):
        await api.catalog.authenticate(created.secret)


async def test_an_unknown_key_is_cached_as_unknown_until_the_ttl_or_a_local_write(
    make_env: MakeEnv,
) -> None:
    api = await make_env(key_cache_seconds=TTL)
    other = await make_env()  # another process, sharing the database
    space, _ = await other.space_with_key("cache-negative")
    created = await other.catalog.create_key(space.id, KeyKind.SOLVER, "late")
    # this process never looked it up: the first lookup reads the database
    assert (await api.catalog.authenticate(created.secret)).id == created.key.id
    with pytest.raises(UnauthorizedError):
        await api.catalog.authenticate("not-a-key")
    # a key created by this process works at once, whatever was cached
    mine = await api.catalog.create_key(space.id, KeyKind.SOLVER, "mine")
    assert (await api.catalog.authenticate(mine.secret)).id == mine.key.id


async def test_a_version_published_by_this_process_is_started_at_once(
    make_env: MakeEnv,
) -> None:
    env = await make_env(catalog_cache_seconds=60)  # only local writes can void it here
    space, key = await env.space_with_key("cache-publish")
    await env.push(space, flow("cached"))
    first = await env.manager.start(key, "cached", None, {})
    await env.push(space, flow("cached", seconds=0.01))  # changed: version 2, published
    second = await env.manager.start(key, "cached", None, {})
    assert (first.version, second.version) == (1, 2)


async def test_a_version_published_by_another_process_is_started_after_the_ttl(
    make_env: MakeEnv,
) -> None:
    api = await make_env(catalog_cache_seconds=TTL)
    other = await make_env()
    space, key = await api.space_with_key("cache-elsewhere")
    await api.push(space, flow("shared"))
    assert (await api.manager.start(key, "shared", None, {})).version == 1
    await other.push(space, flow("shared", seconds=0.01))  # changed: version 2
    await asyncio.sleep(TTL * 1.5)
    assert (await api.manager.start(key, "shared", None, {})).version == 2
