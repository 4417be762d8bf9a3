"""Group commit of starts (store/starts.py) on real SQLite and PostgreSQL:
concurrent starts share batches, each gets its own job; a start whose rule
version was deleted gets 404 while the rest of its batch goes in; a batch
that fails answers every caller with the error a single start gives."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from flowjobs import domain
from flowjobs.clock import utcnow
from flowjobs.domain import ApiKey, IdempotentRequest, JobState, NewJob, RuleVersion, Space
from flowjobs.errors import (
    AlreadyExistsError,
    RuleVersionInUseError,
    RuleVersionNotFoundError,
    StoreError,
)
from flowjobs.store import SqlStore, starts
from flowjobs.store.starts import Row
from flowjobs.store.tables import jobs as jobs_table
from support.env import Env, flow

# Rows per batch that each test's store wrote (the test wraps the writer).
Batches = list[int]


def record_batches(store: SqlStore) -> Batches:
    """Wrap the store's batch writer so the test sees the size of each batch."""
    sizes: Batches = []
    batcher = store.jobs.starts
    write = batcher._write

    async def recorded(rows: Sequence[Row]) -> set[str]:
        sizes.append(len(rows))
        return await write(rows)

    batcher._write = recorded
    return sizes


def new_job(space: Space, rule: RuleVersion, key: ApiKey, **fields: Any) -> NewJob:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "space": space,
        "rule": rule,
        "correlation_id": "c",
        "input": {"n": 1},
        "priority": 0,
        "environment_group": "test",
        "api_key": key,
        "execution_limit_s": 60,
    }
    return NewJob(**(values | fields))


async def test_concurrent_starts_share_batches_and_each_gets_its_own_job(env: Env) -> None:
    space, key = await env.space_with_key("s")
    await env.push(space, flow("echo"))
    batches = record_batches(env.store)

    started = await asyncio.gather(
        *(env.manager.start(key, "echo", None, {"n": n}) for n in range(60))
    )

    ids = {job.id for job in started}
    assert len(ids) == 60
    stored = {job.id: job for job in await env.store.get_jobs(sorted(ids))}
    assert set(stored) == ids
    for job in started:
        assert stored[job.id].input == job.input
        assert stored[job.id].state is JobState.WAITING
        assert stored[job.id].created_at == job.created_at
    assert sum(batches) == 60 and max(batches) > 1  # grouped, not one statement each


async def raw_rows(store: SqlStore, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Every column of these jobs as the database holds it (text, so that a
    JSON null and an SQL NULL differ)."""
    columns = [sa.cast(c, sa.Text).label(c.name) for c in jobs_table.c]
    query = sa.select(*columns).where(jobs_table.c.id.in_(ids))
    async with store.db.read() as conn:
        return {row.id: dict(row._mapping) for row in (await conn.execute(query)).all()}


@pytest.mark.parametrize("input_data", [None, [1, "ü", {"a": None}], {"n": 1.5}])
async def test_a_batch_stores_what_a_single_start_stores(env: Env, input_data: Any) -> None:
    """Column for column, a batched row equals one written by the single,
    transactional insert (the path of a start with an Idempotency-Key)."""
    space, key = await env.space_with_key("s")
    rule = await env.push(space, flow("echo"))
    fields = {"input": input_data, "priority": 7, "retry_on_loss": 2, "execution_limit_s": 12.5}
    single = new_job(
        space, rule, key, idempotency=IdempotentRequest("k", "h"), rerun_of="r", **fields
    )
    batched = new_job(space, rule, key, rerun_of="r", **fields)
    now = utcnow()

    answered = [
        await env.store.insert_job(job, now, domain.INITIALIZED) for job in (single, batched)
    ]

    rows = await raw_rows(env.store, [single.id, batched.id])
    differ = {"id", "idempotency_key", "request_hash"}
    for name in set(rows[single.id]) - differ:
        assert rows[batched.id][name] == rows[single.id][name], name
    assert rows[batched.id]["idempotency_key"] is None
    stored = {j.id: j for j in await env.store.get_jobs([single.id, batched.id])}
    assert stored[batched.id] == answered[1]


async def test_a_start_of_a_deleted_version_fails_alone_in_its_batch(env: Env) -> None:
    space, key = await env.space_with_key("s")
    kept = await env.push(space, flow("kept"))
    gone = await env.push(space, flow("gone"))
    assert await env.store.delete_rule_versions(gone.base_id, [gone.version]) == (0, 1)
    batches = record_batches(env.store)
    jobs = [new_job(space, kept, key) for _ in range(4)]
    jobs.insert(2, new_job(space, gone, key))  # looked up before the delete

    results = await asyncio.gather(
        *(env.store.insert_job(job, utcnow(), domain.INITIALIZED) for job in jobs),
        return_exceptions=True,
    )

    assert batches == [5]  # one batch held all five
    assert isinstance(results[2], RuleVersionNotFoundError)
    assert results[2].status == 404
    inserted = [r for r in results if not isinstance(r, BaseException)]
    assert len(inserted) == 4 and all(r.base_id == kept.base_id for r in inserted)
    assert len(await env.store.get_jobs([j.id for j in jobs])) == 4


async def test_starts_racing_a_delete_never_leave_an_orphan_job(env: Env) -> None:
    """Batches of starts and a delete of the same version, at once: either
    the delete wins and no job of the version exists, or the jobs went in
    and the delete is refused (RULE_VERSION_IN_USE)."""
    space, key = await env.space_with_key("s")
    for round_ in range(5):
        rule = await env.push(space, flow(f"race{round_}"))
        jobs = [new_job(space, rule, key) for _ in range(8)]

        async def delete(base_id: str = rule.base_id, version: int = rule.version) -> bool:
            try:
                in_use, deleted = await env.store.delete_rule_versions(base_id, [version])
            except RuleVersionInUseError:
                return False
            return in_use == 0 and deleted == 1

        starts = [env.store.insert_job(job, utcnow(), domain.INITIALIZED) for job in jobs]
        *results, deleted = await asyncio.gather(*starts, delete(), return_exceptions=True)

        stored = await env.store.get_jobs([j.id for j in jobs])
        if deleted is True:
            assert stored == []
            assert all(isinstance(r, RuleVersionNotFoundError) for r in results)
        else:
            assert len(stored) == sum(not isinstance(r, BaseException) for r in results)
            assert all(
                not isinstance(r, BaseException) or isinstance(r, RuleVersionNotFoundError)
                for r in results
            )


async def test_a_failed_batch_answers_every_caller_with_the_store_error(
    env: Env, tmp_path: Any
) -> None:
    """The database is unreachable: each waiting start gets the StoreError a
    single start gets (503 STORE_ERROR), an exception object of its own."""
    space, key = await env.space_with_key("s")
    rule = await env.push(space, flow("echo"))
    broken = SqlStore(
        f"sqlite:///{tmp_path}/no/such/dir/x.db"
        if env.store.is_sqlite
        else "postgresql://postgres@127.0.0.1:1/flowjobs"
    )
    try:
        results = await asyncio.gather(
            *(
                broken.insert_job(new_job(space, rule, key), utcnow(), domain.INITIALIZED)
                for _ in range(6)
            ),
            return_exceptions=True,
        )
    finally:
        await broken.close()

    assert all(isinstance(r, StoreError) for r in results)
    assert {r.status for r in results if isinstance(r, StoreError)} == {503}
    assert len({str(r) for r in results}) == 1
    assert len({id(r) for r in results}) == 6
    assert str(results[0]).startswith("database error: ")


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_row_the_database_refuses_fails_alone(env: Env) -> None:
    """PostgreSQL cannot store U+0000 in JSONB: the batch is refused, its rows
    are written one by one, and only that start fails (as it did alone)."""
    space, key = await env.space_with_key("s")
    rule = await env.push(space, flow("echo"))
    jobs = [new_job(space, rule, key) for _ in range(4)]
    jobs[1] = new_job(space, rule, key, input={"text": "a\u0000b"})

    results = await asyncio.gather(
        *(env.store.insert_job(job, utcnow(), domain.INITIALIZED) for job in jobs),
        return_exceptions=True,
    )

    assert isinstance(results[1], StoreError)
    assert [isinstance(r, BaseException) for r in results] == [False, True, False, False]
    assert len(await env.store.get_jobs([j.id for j in jobs])) == 3


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_large_batch_is_written_in_several_statements(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flowjobs.store.starts.PG_BATCH_BYTES", 4000)
    statements: list[int] = []
    chunks = starts.pg_batch_chunks

    def counted(rows: Sequence[Row], max_bytes: int | None = None) -> list[list[str]]:
        found = chunks(rows, max_bytes)
        statements.append(len(found))
        return found

    monkeypatch.setattr("flowjobs.store.starts.pg_batch_chunks", counted)
    space, key = await env.space_with_key("s")
    rule = await env.push(space, flow("echo"))
    batches = record_batches(env.store)
    jobs = [new_job(space, rule, key, input={"text": "x" * 900}) for _ in range(12)]

    answered = await asyncio.gather(
        *(env.store.insert_job(job, utcnow(), domain.INITIALIZED) for job in jobs)
    )

    assert batches == [12] and statements[0] > 1  # one batch, statements of about 4 kB
    stored = await env.store.get_jobs([j.id for j in jobs])
    assert sorted(j.id for j in stored) == sorted(j.id for j in answered)
    assert all(j.input == {"text": "x" * 900} for j in stored)


async def test_a_duplicate_id_fails_alone_in_its_batch(env: Env) -> None:
    """The database refuses the batch for one row's key: the rows are written
    one by one and only that start fails (409 ALREADY_EXISTS, as alone)."""
    space, key = await env.space_with_key("s")
    rule = await env.push(space, flow("echo"))
    taken = new_job(space, rule, key)
    await env.store.insert_job(taken, utcnow(), domain.INITIALIZED)
    jobs = [new_job(space, rule, key) for _ in range(4)]
    jobs[2] = new_job(space, rule, key, id=taken.id)

    results = await asyncio.gather(
        *(env.store.insert_job(job, utcnow(), domain.INITIALIZED) for job in jobs),
        return_exceptions=True,
    )

    assert isinstance(results[2], AlreadyExistsError)
    assert [isinstance(r, BaseException) for r in results] == [False, False, True, False]
    assert len(await env.store.get_jobs([j.id for j in jobs])) == 4  # three new + taken


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_after_a_driver_error_sqlite_batches_go_on_on_a_fresh_connection(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: a batch whose transaction fails in the driver answers its
    callers the StoreError (503) and rolls back; the writer then drops its
    connection, and the next batch is written on another one."""
    space, key = await env.space_with_key("s")
    rule = await env.push(space, flow("echo"))
    await env.store.insert_job(new_job(space, rule, key), utcnow(), domain.INITIALIZED)
    writer = env.store.jobs.start_writer._sqlite
    assert writer is not None
    first_connection = writer._driver
    write = starts.write_sqlite_batch

    def failing(db: sqlite3.Connection, batch: starts.SqliteBatch) -> set[str]:
        db.execute("BEGIN IMMEDIATE")  # fails mid-transaction
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr("flowjobs.store.starts.write_sqlite_batch", failing)
    failed = new_job(space, rule, key)
    with pytest.raises(StoreError, match="database error: OperationalError"):
        await env.store.insert_job(failed, utcnow(), domain.INITIALIZED)
    monkeypatch.setattr("flowjobs.store.starts.write_sqlite_batch", write)

    after = await env.store.insert_job(new_job(space, rule, key), utcnow(), domain.INITIALIZED)

    assert writer._driver is not None and writer._driver is not first_connection
    assert [j.id for j in await env.store.get_jobs([failed.id, after.id])] == [after.id]
