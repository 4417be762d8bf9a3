"""Issue 17 point 2(a): a large flow document in a request does not hold the
event loop. YAML is parsed, and every document validated, in a thread within
``document_budget_seconds``; a cheap request answers promptly meanwhile, and
a document over its budget (or a YAML body over ``max_yaml_bytes``) gets a
413 problem."""

from __future__ import annotations

import asyncio
import datetime
import json
import pickle
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from flowjobs.api.app import create_app
from flowjobs.config import Settings
from flowjobs.domain import KeyKind
from flowjobs.errors import InvalidJsonError
from support.env import MakeEnv

YAML = {"Content-Type": "application/yaml"}
Client = Callable[..., Awaitable[httpx.AsyncClient]]


def yaml_of_many_items(items: int) -> bytes:
    """The slowest shape for PyYAML: many small flow mappings (about 60 KB/s)."""
    lines = ["name: big", "alias: big", "description: many items", "nodes:"]
    lines += ["  - id: done", "    type: end", '    output: "1"', "tags:"]
    lines += [f"  - {{a: {i}, b: text{i}, c: [1, 2, 3]}}" for i in range(items)]
    return ("\n".join(lines) + "\n").encode()


def json_of_slow_expressions(nodes: int, items: int) -> bytes:
    """A JSON document that is cheap to read and slow to validate: JSONata
    parses at about 13 us a character."""
    expression = "[" + ", ".join(["input.a"] * items) + "]"
    document = {
        "name": "slow",
        "alias": "slow",
        "nodes": [
            {"id": f"n{i}", "type": "assign", "set": {"v": expression}} for i in range(nodes)
        ],
    }
    return json.dumps(document).encode()


@pytest.fixture
async def make_client(db_url: str, make_env: MakeEnv) -> AsyncIterator[Client]:
    contexts: list[Any] = []
    clients: list[httpx.AsyncClient] = []

    async def make(**overrides: Any) -> httpx.AsyncClient:
        env = await make_env()
        space, _ = await env.space_with_key("s")
        created = await env.catalog.create_key(space.id, KeyKind.MANAGEMENT, "m")
        settings = Settings(database_url=db_url, log_level="WARNING", **overrides)
        app = create_app(settings, run_worker=False)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        contexts.append(context)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(
            transport=transport,
            base_url="http://t",
            headers={"Authorization": f"Bearer {created.secret}"},
            timeout=120,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()
    for context in contexts:
        await context.__aexit__(None, None, None)


async def slowest_health_check_while(
    client: httpx.AsyncClient, request: Awaitable[httpx.Response]
) -> tuple[httpx.Response, float, float]:
    """Run ``request`` while asking /healthz over and over; the response,
    how long it took, and the longest wait meanwhile for a /healthz answer
    or for a 10 ms sleep to wake (how long the event loop was held)."""
    task = asyncio.ensure_future(request)
    started = time.monotonic()
    slowest = 0.0
    for _ in range(10_000):  # bounded; the request ends well before
        if task.done():
            break
        asked = time.monotonic()
        assert (await client.get("/healthz")).status_code == 200
        await asyncio.sleep(0.01)
        slowest = max(slowest, time.monotonic() - asked - 0.01)
    response = await task
    return response, time.monotonic() - started, slowest


async def test_a_large_yaml_body_is_parsed_while_the_api_answers(make_client: Client) -> None:
    client = await make_client(document_budget_seconds=60)
    body = yaml_of_many_items(6000)  # about 200 KB: seconds of pure-Python parsing
    request = client.post("/api/rule/validate", content=body, headers=YAML)
    response, took, slowest = await slowest_health_check_while(client, request)
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is False  # tags must be strings: parsed all the way
    # Before, /healthz waited for the whole parse (62 s for 1 MB in the issue).
    # Generous bounds: the parse takes seconds, a health check a few ms.
    assert took > 1.0
    assert slowest < took / 2  # held, the loop would answer only at the end


async def test_a_yaml_body_over_its_time_budget_is_refused(make_client: Client) -> None:
    client = await make_client(document_budget_seconds=0.3)
    for path in ("/api/rule/validate", "/api/rule"):
        response = await client.post(path, content=yaml_of_many_items(6000), headers=YAML)
        assert response.status_code == 413, response.text
        problem = response.json()
        assert problem["code"] == "DOCUMENT_OVER_BUDGET"
        assert "FLOWJOBS_DOCUMENT_BUDGET_SECONDS" in problem["detail"]


async def test_a_yaml_body_over_its_size_is_refused_unread(make_client: Client) -> None:
    client = await make_client(max_yaml_bytes=10_000)
    response = await client.post("/api/rule", content=yaml_of_many_items(1000), headers=YAML)
    assert response.status_code == 413
    assert "FLOWJOBS_MAX_YAML_BYTES" in response.json()["detail"]


async def test_a_document_slow_to_validate_does_not_hold_the_loop(make_client: Client) -> None:
    client = await make_client(document_budget_seconds=60)
    body = json_of_slow_expressions(nodes=40, items=800)  # about 400 KB of expressions
    request = client.post("/api/rule/validate", content=body)
    response, took, slowest = await slowest_health_check_while(client, request)
    assert response.status_code == 200 and response.json()["valid"] is True, response.text
    assert took > 1.0
    assert slowest < took / 2  # held, the loop would answer only at the end


async def test_a_document_over_its_validation_budget_is_refused(make_client: Client) -> None:
    client = await make_client(document_budget_seconds=0.3)
    body = json_of_slow_expressions(nodes=40, items=800)
    for path in ("/api/rule/validate", "/api/rule"):
        response = await client.post(path, content=body)
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "DOCUMENT_OVER_BUDGET"


def test_the_process_answers_with_the_pickled_outcome() -> None:
    def run(body: bytes) -> tuple[str, object]:
        command = [sys.executable, "-m", "flowjobs.api.bodyparse", "64", "60"]
        done = subprocess.run(command, input=body, capture_output=True, timeout=60, check=True)
        outcome: tuple[str, object] = pickle.loads(done.stdout)
        return outcome

    # a date stays a date, for the flow checks to report
    assert run(b"name: x\nwhen: 2024-01-02\n") == (
        "ok",
        {"name": "x", "when": datetime.date(2024, 1, 2)},
    )
    status, error = run(b"a: [1, 2")
    assert status == "error" and isinstance(error, InvalidJsonError)
