"""GET /job/{id}'s lookup (SqlStore.get_job): by id, only within the key's
space (on PostgreSQL through psycopg directly: test_job_lookup_postgres.py)."""

from __future__ import annotations

from support.env import Env, flow


async def test_a_job_is_found_by_id_and_only_in_its_space(env: Env) -> None:
    space, key = await env.space_with_key("s")
    other, _ = await env.space_with_key("other")
    await env.push(space, flow("f"))
    started = await env.manager.start(key, "f", None, {"name": "Zoë", "n": [1, 2]})

    found = await env.store.get_job(started.id, space.id)
    assert found == started
    assert found is not None and found.input == {"name": "Zoë", "n": [1, 2]}
    assert found.created_at.tzinfo is not None
    assert await env.store.get_job(started.id) == started
    assert await env.store.get_job(started.id, other.id) is None
    assert await env.store.get_job("00000000-0000-4000-8000-000000000000", space.id) is None
