"""StartBatcher (store/starts.py) over a fake writer, and the fast start
route's judgement of which requests it answers (api/fast_start.py). No I/O."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.dialects.sqlite import aiosqlite as aiosqlite_dialect

from flowjobs.api.fast_start import OrdinaryStart, ordinary_start
from flowjobs.errors import AlreadyExistsError, RuleVersionNotFoundError, StoreError
from flowjobs.store.starts import (
    BatchRejected,
    PartlyWritten,
    Row,
    SqliteBinder,
    StartBatcher,
    pg_batch_chunks,
)
from flowjobs.store.tables import jobs


class FakeWriter:
    """Records each batch; holds it until ``release`` so that rows queue."""

    def __init__(self, *, gone: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[str]] = []
        self.gone = gone  # ids whose version is "deleted"
        self.gate = asyncio.Event()
        self.fail: BaseException | None = None
        self.reject: set[str] = set()  # ids the "database" refuses

    async def __call__(self, rows: Sequence[Row]) -> set[str]:
        ids = [row["id"] for row in rows]
        self.batches.append(ids)
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        refused = self.reject & set(ids)
        if refused:
            raise BatchRejected(AlreadyExistsError(f"duplicate {sorted(refused)[0]}"))
        return {i for i in ids if i not in self.gone}


def row(job_id: str) -> Row:
    return {"id": job_id, "version": 3}


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_rows_that_arrive_during_a_write_form_the_next_batch() -> None:
    writer = FakeWriter()
    batcher = StartBatcher(writer, max_rows=100, max_batches=1)
    first = asyncio.ensure_future(batcher.insert(row("a")))
    await settle()
    rest = [asyncio.ensure_future(batcher.insert(row(i))) for i in "bcd"]
    await settle()
    assert writer.batches == [["a"]]  # written at once, no waiting for more
    assert not first.done()  # not answered before its batch is written

    writer.gate.set()
    await asyncio.gather(first, *rest)

    assert writer.batches == [["a"], ["b", "c", "d"]]


async def test_a_batch_holds_at_most_max_rows() -> None:
    writer = FakeWriter()
    writer.gate.set()
    batcher = StartBatcher(writer, max_rows=2, max_batches=1)

    await asyncio.gather(*(batcher.insert(row(i)) for i in "abcde"))

    assert writer.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_two_batches_may_be_in_flight() -> None:
    writer = FakeWriter()
    batcher = StartBatcher(writer, max_rows=100, max_batches=2)
    waiting = [asyncio.ensure_future(batcher.insert(row(i))) for i in "ab"]
    await settle()
    waiting += [asyncio.ensure_future(batcher.insert(row(i))) for i in "cd"]
    await settle()
    assert writer.batches == [["a", "b"], ["c", "d"]]  # both being written
    waiting += [asyncio.ensure_future(batcher.insert(row(i))) for i in "ef"]
    await settle()
    assert writer.batches == [["a", "b"], ["c", "d"]]  # a third waits for one to end

    writer.gate.set()
    await asyncio.gather(*waiting)
    assert writer.batches == [["a", "b"], ["c", "d"], ["e", "f"]]


async def test_a_row_whose_version_is_gone_fails_alone() -> None:
    writer = FakeWriter(gone=frozenset({"b"}))
    writer.gate.set()
    batcher = StartBatcher(writer, max_rows=100, max_batches=1)

    results = await asyncio.gather(*(batcher.insert(row(i)) for i in "abc"), return_exceptions=True)

    assert results[0] is None and results[2] is None
    assert isinstance(results[1], RuleVersionNotFoundError)
    assert "Version 3" in str(results[1])


async def test_a_failed_batch_fails_every_caller_with_its_own_error() -> None:
    writer = FakeWriter()
    writer.fail = StoreError("database error: OperationalError")
    writer.gate.set()
    batcher = StartBatcher(writer, max_rows=100, max_batches=1)

    results = await asyncio.gather(*(batcher.insert(row(i)) for i in "abc"), return_exceptions=True)

    assert all(isinstance(r, StoreError) for r in results)
    assert {str(r) for r in results} == {"database error: OperationalError"}
    assert len({id(r) for r in results}) == 3


async def test_a_rejected_batch_is_written_row_by_row() -> None:
    writer = FakeWriter()
    writer.reject = {"b"}
    writer.gate.set()
    batcher = StartBatcher(writer, max_rows=100, max_batches=1)

    results = await asyncio.gather(*(batcher.insert(row(i)) for i in "abc"), return_exceptions=True)

    assert writer.batches == [["a", "b", "c"], ["a"], ["b"], ["c"]]
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], AlreadyExistsError)


async def test_a_caller_that_goes_away_does_not_disturb_the_batch() -> None:
    writer = FakeWriter()
    batcher = StartBatcher(writer, max_rows=100, max_batches=1)
    gone = asyncio.ensure_future(batcher.insert(row("a")))
    stays = asyncio.ensure_future(batcher.insert(row("b")))
    await settle()
    gone.cancel()
    writer.gate.set()

    await stays
    await batcher.drain()

    assert writer.batches == [["a", "b"]]


async def test_a_new_row_after_a_finished_batch_is_written() -> None:
    writer = FakeWriter()
    writer.gate.set()
    batcher = StartBatcher(writer, max_rows=100, max_batches=1)

    await batcher.insert(row("a"))
    await batcher.insert(row("b"))  # right after: the last flusher has just ended

    assert writer.batches == [["a"], ["b"]]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        StartBatcher(FakeWriter(), max_rows=0, max_batches=1)


def test_the_postgresql_batch_is_json_with_iso_timestamps() -> None:
    when = datetime(2026, 11, 29, 2, 30, 0, 123456, tzinfo=UTC)
    full = {
        "id": "j",
        "space_id": "s",
        "base_id": "b",
        "version": 1,
        "rule_type": "integration-flow",
        "correlation_id": "c",
        "input": {"ü": [1, None]},
        "state": "WAITING",
        "code": "JOB_INITIALIZED",
        "message": "Job initialized",
        "priority": 0,
        "parallel_limit": 10,
        "environment_group": "e",
        "api_key_id": "k",
        "api_key_name": "n",
        "execution_limit_s": 60.5,
        "retry_on_loss": 0,
        "created_at": when,
        "updated_at": when,
        "rerun_of": None,
        "output": None,  # not a column the batch sets
    }

    [[text]] = pg_batch_chunks([full])
    decoded = json.loads(text)

    assert decoded["created_at"] == "2026-11-29T02:30:00.123456+00:00"
    assert decoded["input"] == {"ü": [1, None]}
    assert "output" not in decoded


def test_large_batches_are_split_into_statements_of_bounded_size() -> None:
    def sized(job_id: str, size: int) -> Row:
        names = ["space_id", "base_id", "version", "rule_type", "correlation_id", "state"]
        names += ["code", "message", "priority", "parallel_limit", "environment_group"]
        values: dict[str, Any] = dict.fromkeys(names, "x")
        return values | {
            "id": job_id,
            "input": "a" * size,
            "api_key_id": "k",
            "api_key_name": "n",
            "execution_limit_s": 1.0,
            "retry_on_loss": 0,
            "created_at": None,
            "updated_at": None,
            "rerun_of": None,
        }

    rows = [sized("a", 400), sized("b", 400), sized("c", 5000), sized("d", 10)]

    chunks = pg_batch_chunks(rows, max_bytes=1500)

    assert [[json.loads(t)["id"] for t in chunk] for chunk in chunks] == [
        ["a", "b"],
        ["c"],  # larger than the bound: alone
        ["d"],
    ]


async def test_a_batch_written_in_part_answers_each_row_by_its_part() -> None:
    async def write(rows: Sequence[Row]) -> set[str]:
        if len(rows) > 1:  # "a" and "b" went in ("b" had no version), then "c" failed
            raise PartlyWritten({"a", "b"}, {"a"}, StoreError("database error: X"))
        return set()

    batcher = StartBatcher(write, max_rows=100, max_batches=1)

    results = await asyncio.gather(*(batcher.insert(row(i)) for i in "abc"), return_exceptions=True)

    assert results[0] is None
    assert isinstance(results[1], RuleVersionNotFoundError)
    assert isinstance(results[2], StoreError) and str(results[2]) == "database error: X"


def scope(query: bytes = b"", **headers: str) -> dict[str, Any]:
    return {
        "query_string": query,
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }


def test_an_ordinary_start_is_read_from_its_headers_and_query() -> None:
    found = ordinary_start(
        scope(
            b"priority=10",
            authorization="Bearer  secret ",
            x_correlation_id="order-1",
            content_length="2",
        )
    )

    assert found == OrdinaryStart("secret", "order-1", 10, "2")
    assert ordinary_start(scope(authorization="bearer s")) == OrdinaryStart("s", None, None, "")


@pytest.mark.parametrize(
    "request_scope",
    [
        scope(),  # no key: the FastAPI route's 401
        scope(authorization="Basic abc"),
        scope(authorization="Bearer "),
        scope(b"priority=11", authorization="Bearer s"),  # its 400
        scope(b"priority=-1", authorization="Bearer s"),
        scope(b"priority=3&x=1", authorization="Bearer s"),
        scope(b"other=1", authorization="Bearer s"),
        scope(authorization="Bearer s", idempotency_key="k"),  # the transactional path
        scope(authorization="Bearer s", x_correlation_id="x" * 201),
    ],
)
def test_anything_else_goes_to_the_fastapi_route(request_scope: dict[str, Any]) -> None:
    assert ordinary_start(request_scope) is None


def test_the_first_of_repeated_headers_counts() -> None:
    request_scope = scope(authorization="Bearer first")
    request_scope["headers"].append((b"authorization", b"Bearer second"))

    found = ordinary_start(request_scope)

    assert found is not None and found.secret == "first"


# ---- SqliteBinder: the SQLite batch binds values as SQLAlchemy does ----------


def _sqlalchemy_bound(dialect: Any, row: Row) -> dict[str, Any]:
    """Each value as the column's own SQLAlchemy bind processor gives it."""
    bound = {}
    for column in jobs.c:
        if column.name in row:
            process = column.type.dialect_impl(dialect).bind_processor(dialect)
            value = row[column.name]
            bound[column.name] = value if process is None else process(value)
    return bound


def test_the_sqlite_binder_gives_what_sqlalchemy_binds() -> None:
    dialect = aiosqlite_dialect.dialect()
    binder = SqliteBinder(dialect)
    now = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    # equal instant, other zone: bound by identity, so each keeps its own text
    elsewhere = datetime(2026, 1, 2, 5, 4, 5, 6000, tzinfo=timezone(timedelta(hours=2)))
    row = {
        "id": "j",
        "input": {"n": 1, "s": "ü"},
        "output": None,
        "error": None,
        "created_at": now,
        "updated_at": now,  # the same object in two columns
        "claimed_at": elsewhere,
        "ended_at": None,
        "execution_limit_s": 12,
        "priority": 3,
        "rerun_of": None,
    }
    names = tuple(row)

    params = binder.params(row, names)

    expected = _sqlalchemy_bound(dialect, row)
    assert params == tuple(expected[name] for name in names)
    assert expected["output"] == "null" and expected["ended_at"] is None
    assert params[names.index("claimed_at")] != params[names.index("created_at")]
