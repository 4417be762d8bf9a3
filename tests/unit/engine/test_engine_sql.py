"""The ``sql`` node and SqlConnections, on a SQLite file (and PostgreSQL when reachable)."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flowjobs.engine import (
    EngineServices,
    SqlConnections,
    compile_flow,
    run_flow,
    sql_connections_used,
)
from flowjobs.engine.sql import async_url, json_safe
from flowjobs.errors import FlowExecutionError, FlowValidationError
from support.pgroles import pg_role

PG_URL = os.environ.get("FLOWJOBS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def flow_of(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "sql test", "nodes": list(nodes)}


def sql_node(node_id: str = "q", **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "sql", "connection": "main", **fields}


@pytest.fixture
async def connections(tmp_path: Path) -> AsyncIterator[SqlConnections]:
    path = tmp_path / "data.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, data BLOB)")
        conn.executemany(
            "INSERT INTO people (id, name) VALUES (?, ?)", [(1, "Ann"), (2, "Bob"), (3, "Cy")]
        )
    sql = SqlConnections({"main": f"sqlite:///{path}"})
    yield sql
    await sql.close()


async def run(
    make_ctx: Any, sql: SqlConnections | None, *nodes: dict[str, Any], input_data: Any = None
) -> Any:
    flow = compile_flow(flow_of(*nodes))
    return await run_flow(flow, make_ctx(input_data), services=EngineServices(sql=sql))


def end(output: str) -> dict[str, Any]:
    return {"id": "out", "type": "end", "output": output}


async def test_rows_one_and_execute(make_ctx: Any, connections: SqlConnections) -> None:
    select = "SELECT id, name FROM people WHERE id >= :low ORDER BY id"
    output = await run(
        make_ctx,
        connections,
        sql_node("all", query=select, params={"low": "input.low"}),
        sql_node("first", query=select, params={"low": "input.low"}, mode="one"),
        sql_node("none", query=select, params={"low": "99"}, mode="one"),
        sql_node(
            "upd",
            query="UPDATE people SET name = :name WHERE id > :id",
            params={"name": '"X"', "id": "1"},
            mode="execute",
        ),
        end('{"all": all, "first": first, "none": none, "upd": upd}'),
        input_data={"low": 2},
    )
    assert output["all"] == {
        "rows": [{"id": 2, "name": "Bob"}, {"id": 3, "name": "Cy"}],
        "rowCount": 2,
    }
    assert output["first"] == {"id": 2, "name": "Bob"}
    assert output["none"] is None
    assert output["upd"] == {"rowCount": 2}
    again = await run(
        make_ctx,
        connections,
        sql_node(query="SELECT name FROM people ORDER BY id"),
        end("q.rows.name"),
    )
    assert again == ["Ann", "X", "X"]


async def test_params_are_bound_not_formatted(make_ctx: Any, connections: SqlConnections) -> None:
    evil = "x'); DROP TABLE people; --"
    await run(
        make_ctx,
        connections,
        sql_node(
            "ins",
            query="INSERT INTO people (id, name) VALUES (10, :name)",
            params={"name": "input.name"},
            mode="execute",
        ),
        input_data={"name": evil},
    )
    output = await run(
        make_ctx,
        connections,
        sql_node(query="SELECT name FROM people WHERE id = :id", params={"id": "10"}, mode="one"),
        end("q.name"),
    )
    assert output == evil
    count = await run(
        make_ctx,
        connections,
        sql_node(query="SELECT count(*) AS n FROM people", mode="one"),
        end("q.n"),
    )
    assert count == 4


async def test_batch_in_one_transaction(make_ctx: Any, connections: SqlConnections) -> None:
    output = await run(
        make_ctx,
        connections,
        sql_node(
            "ins",
            query="INSERT INTO people (id, name) VALUES (:id, :name)",
            params={"name": '"default"'},
            batch="input.people",
        ),
        end("ins"),
        input_data={"people": [{"id": 20, "name": "P"}, {"id": 21}, {"id": 22, "name": "R"}]},
    )
    assert output == {"rowCount": 3}
    names = await run(
        make_ctx,
        connections,
        sql_node(query="SELECT name FROM people WHERE id >= 20 ORDER BY id"),
        end("q.rows.name"),
    )
    assert names == ["P", "default", "R"]

    # a failing element rolls back the whole batch
    with pytest.raises(FlowExecutionError) as info:
        await run(
            make_ctx,
            connections,
            sql_node(
                "ins",
                query="INSERT INTO people (id, name) VALUES (:id, :name)",
                batch="input.people",
            ),
            input_data={"people": [{"id": 30, "name": "ok"}, {"id": 1, "name": "duplicate"}]},
        )
    assert info.value.error_type == "SqlError"
    assert "UNIQUE" in info.value.message
    left = await run(
        make_ctx,
        connections,
        sql_node(query="SELECT count(*) AS n FROM people WHERE id = 30", mode="one"),
        end("q.n"),
    )
    assert left == 0


async def test_empty_batch_does_nothing(make_ctx: Any, connections: SqlConnections) -> None:
    output = await run(
        make_ctx,
        connections,
        sql_node("ins", query="INSERT INTO people (id) VALUES (:id)", batch="[]"),
        end("ins"),
    )
    assert output == {"rowCount": 0}


async def test_json_safe_values_from_sqlite(make_ctx: Any, connections: SqlConnections) -> None:
    output = await run(
        make_ctx,
        connections,
        sql_node(
            query="SELECT X'00FF10' AS raw, 1.5 AS f, NULL AS empty, :obj AS obj",
            params={"obj": '{"a": [1]}'},
            mode="one",
        ),
        end("q"),
    )
    assert output == {"raw": "AP8Q", "f": 1.5, "empty": None, "obj": '{"a": [1]}'}


def test_json_safe_conversions() -> None:
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert json_safe(decimal.Decimal("12.50")) == 12.5
    assert json_safe(decimal.Decimal("42")) == 42
    assert json_safe(decimal.Decimal("NaN")) == "NaN"
    assert json_safe(moment) == "2024-05-06T07:08:09+00:00"
    assert json_safe(datetime.date(2024, 5, 6)) == "2024-05-06"
    assert json_safe(datetime.time(7, 8)) == "07:08:00"
    assert json_safe(b"\x00\xff") == "AP8="
    assert json_safe(ident) == str(ident)
    assert json_safe({"a": [decimal.Decimal("1.5"), (1, 2)]}) == {"a": [1.5, [1, 2]]}
    assert json_safe(float("inf")) == "inf"


async def test_sql_error_is_a_flow_error(make_ctx: Any, connections: SqlConnections) -> None:
    with pytest.raises(FlowExecutionError) as info:
        await run(make_ctx, connections, sql_node(query="SELECT * FROM missing_table"))
    assert info.value.error_type == "SqlError"
    assert "missing_table" in info.value.message
    assert info.value.node_id == "q"


async def test_unknown_connection_at_run_time(make_ctx: Any, connections: SqlConnections) -> None:
    node = {"id": "q", "type": "sql", "connection": "other", "query": "SELECT 1"}
    with pytest.raises(FlowExecutionError) as info:
        await run(make_ctx, connections, node)
    assert info.value.error_type == "UnknownConnection"
    assert '"other"' in info.value.message and "main" in info.value.message
    with pytest.raises(FlowExecutionError, match="no SQL connections"):
        await run(make_ctx, None, node)


def test_unknown_connection_at_compile_time() -> None:
    document = flow_of(
        {"id": "a", "type": "sql", "connection": "x", "query": "SELECT 1"},
        {"id": "b", "type": "sql", "connection": "b", "query": "SELECT 1"},
    )
    with pytest.raises(FlowValidationError) as info:
        compile_flow(document, sql_connections=["b", "a"])
    assert info.value.problems == ['nodes[0] (id "a"): unknown connection "x" (configured: a, b)']
    compile_flow(document)  # not checked without the names
    with pytest.raises(FlowValidationError, match=r"configured: none"):
        compile_flow(document, sql_connections=())


def test_sql_validation_problems() -> None:
    document = flow_of(
        {"id": "a", "type": "sql", "connection": "c", "query": "SELECT 1", "mode": "many"},
        {"id": "b", "type": "sql", "connection": "c", "query": "SELECT 1", "params": {"x": "1 +"}},
        {
            "id": "c",
            "type": "sql",
            "connection": "c",
            "query": "INSERT",
            "batch": "[]",
            "mode": "rows",
        },
        {
            "id": "d",
            "type": "sql",
            "connection": "c",
            "query": "SELECT 1",
            "params": {"bad-name": "1"},
        },
        {"id": "e", "type": "sql", "connection": "c"},
    )
    with pytest.raises(FlowValidationError) as info:
        compile_flow(document)
    text = "\n".join(info.value.problems)
    assert 'nodes[0] (id "a"): mode' in text
    assert "params.x: invalid JSONata" in text
    assert "batch: needs mode execute" in text
    assert "'bad-name' is not an identifier" in text
    assert 'nodes[4] (id "e"): query: required field is missing' in text


def test_sql_connections_used_and_urls() -> None:
    flow = compile_flow(
        flow_of(
            sql_node("a", query="SELECT 1"),
            {"id": "b", "type": "sql", "connection": "other", "query": "SELECT 1"},
        )
    )
    assert sql_connections_used(flow) == {"main", "other"}
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgresql://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert async_url("postgresql+asyncpg://h/db") == "postgresql+asyncpg://h/db"
    assert async_url("mysql+aiomysql://h/db") == "mysql+aiomysql://h/db"
    sql = SqlConnections({"b": "sqlite://", "a": "sqlite://"})
    assert sql.names == ("a", "b")


async def test_cancel_a_slow_query(make_ctx: Any, connections: SqlConnections) -> None:
    slow = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) "
        "SELECT count(*) AS n FROM c"
    )
    before = asyncio.all_tasks()
    ctx = make_ctx(None)
    flow = compile_flow(flow_of(sql_node(query=slow, mode="one")))
    task = asyncio.create_task(run_flow(flow, ctx, services=EngineServices(sql=connections)))
    await asyncio.sleep(0.3)
    assert not task.done()
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 2
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before
    # the connection was given back (or dropped): the database is usable at once
    started = time.monotonic()
    count = await run(
        make_ctx,
        connections,
        sql_node(query="SELECT count(*) AS n FROM people", mode="one"),
        end("q.n"),
    )
    assert count == 3
    assert time.monotonic() - started < 2


def _postgres_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as exc:  # psycopg.OperationalError and friends
        return str(exc)


@pytest.mark.postgres
async def test_postgresql_rows_execute_batch(make_ctx: Any) -> None:
    problem = await asyncio.to_thread(_postgres_reachable)
    if problem is not None:
        if os.environ.get("FLOWJOBS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {problem}")
    table = f"flowjobs_sqlnode_{uuid.uuid4().hex[:12]}"
    with pg_role() as role:
        sql = SqlConnections({"main": role.url()}, pool_size=2)
        output = await _postgresql_scenario(make_ctx, sql, table)
    assert output["ins"] == {"rowCount": 2}
    assert output["upd"] == {"rowCount": 1}
    assert output["sel"] == {
        "rows": [
            {"id": 1, "name": "a", "price": 1.5, "at": "2024-01-02T03:04:05+00:00"},
            {"id": 2, "name": "'; DROP TABLE x; --", "price": 3, "at": "2024-01-02T03:04:05+00:00"},
        ],
        "rowCount": 2,
    }


async def _postgresql_scenario(make_ctx: Any, sql: SqlConnections, table: str) -> Any:
    try:
        output = await run(
            make_ctx,
            sql,
            sql_node(
                "create",
                query=f"CREATE TABLE {table} (id int PRIMARY KEY, name text, price numeric(10,2), "
                "at timestamptz DEFAULT '2024-01-02T03:04:05Z')",
                mode="execute",
            ),
            sql_node(
                "ins",
                query=f"INSERT INTO {table} (id, name, price) VALUES (:id, :name, :price)",
                batch="input.rows",
            ),
            sql_node(
                "upd",
                query=f"UPDATE {table} SET name = :name WHERE id = :id",
                params={"name": "input.evil", "id": "2"},
                mode="execute",
            ),
            sql_node("sel", query=f"SELECT id, name, price, at FROM {table} ORDER BY id"),
            end('{"ins": ins, "upd": upd, "sel": sel}'),
            input_data={
                "rows": [{"id": 1, "name": "a", "price": 1.5}, {"id": 2, "name": "b", "price": 3}],
                "evil": "'; DROP TABLE x; --",
            },
        )
    finally:
        await sql.close()
    return output
