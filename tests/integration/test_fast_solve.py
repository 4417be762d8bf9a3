"""The Solver API's fast path (api/fast_solve.py) answers as the FastAPI
route does, and a big bulk solve does not hold the event loop: a small solve
sent while it runs is answered before it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowjobs.api.app import create_app
from flowjobs.api.fast_solve import FastSolves
from flowjobs.domain import KeyKind
from flowjobs.rules import RuleService
from support.env import Env

TABLE = Path(__file__).parents[1] / "data" / "decisionrules" / "Test_v2.json"
INPUT = {"productType": "basic_1", "period": "month", "promoCode": "SUMMER SALE"}


@dataclass
class Served:
    http: httpx.AsyncClient
    app: Any
    solver: str
    management: str


@pytest.fixture
async def served(env: Env) -> AsyncIterator[Served]:
    space, _ = await env.space_with_key("fast")
    solver = await env.catalog.create_key(space.id, KeyKind.SOLVER, "s")
    management = await env.catalog.create_key(space.id, KeyKind.MANAGEMENT, "m")
    await RuleService(env.catalog).create(space.id, json.loads(TABLE.read_text()))
    app = create_app(env.settings, run_worker=False)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as http,
    ):
        yield Served(http, app, solver.secret, management.secret)


REQUESTS: list[tuple[str, dict[str, str], bytes]] = [
    ("/rule/solve/test", {}, json.dumps({"data": INPUT}).encode()),
    ("/rule/solve/test/1", {"X-Strategy": "ARRAY"}, json.dumps({"data": [INPUT]}).encode()),
    ("/rule/solve/test/", {"X-Correlation-Id": "c-1"}, json.dumps({"data": INPUT}).encode()),
    ("/rule/solve/nope", {"X-Correlation-Id": "c-2"}, b'{"data": {}}'),
    ("/rule/solve/test/0", {"X-Correlation-Id": "c-3"}, b'{"data": {}}'),
    ("/rule/solve/test", {"X-Correlation-Id": "c-4"}, b"{bad"),
    ("/rule/solve/test", {"X-Correlation-Id": "c-5"}, b"[1]"),
    ("/rule/solve/test", {"X-Audit-Ttl": "0", "X-Audit": "true"}, b'{"data": {}}'),
]


def _comparable(response: httpx.Response) -> tuple[int, Any, str | None]:
    """Status, body and a given correlation id (generated ones differ)."""
    correlation = response.headers.get("x-correlation-id", "")
    return response.status_code, response.json(), correlation if correlation[:2] == "c-" else None


async def test_the_fast_path_answers_as_the_route(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.solver}", "Content-Type": "application/json"}
    answered = [
        await served.http.post(path, headers=auth | extra, content=body)
        for path, extra, body in REQUESTS
    ]
    routes = served.app.fast_routes
    fast = [route for route in routes if isinstance(route, FastSolves)]
    assert len(fast) == 1
    routes.remove(fast[0])  # every request through the FastAPI route
    try:
        routed = [
            await served.http.post(path, headers=auth | extra, content=body)
            for path, extra, body in REQUESTS
        ]
    finally:
        routes.insert(0, fast[0])
    assert [_comparable(r) for r in answered] == [_comparable(r) for r in routed]
    assert [r.status_code for r in answered] == [200, 200, 200, 404, 400, 400, 400, 400]
    assert all(r.headers.get("x-correlation-id") for r in answered)


async def test_keys_are_checked_on_the_fast_path(served: Served) -> None:
    body = json.dumps({"data": INPUT})
    anonymous = await served.http.post("/rule/solve/test", content=body)
    assert anonymous.status_code == 401
    management = await served.http.post(
        "/rule/solve/test", content=body, headers={"Authorization": f"Bearer {served.management}"}
    )
    assert (management.status_code, management.json()["code"]) == (403, "WRONG_KEY_KIND")
    unknown = await served.http.post(
        "/rule/solve/test", content=body, headers={"Authorization": "Bearer fjs_nope"}
    )
    assert unknown.status_code == 401


async def test_a_big_bulk_does_not_hold_the_event_loop(served: Served) -> None:
    auth = {"Authorization": f"Bearer {served.solver}"}
    bulk = json.dumps({"data": [INPUT] * 10_000})  # within FLOWJOBS_MAX_BODY_BYTES
    finished: list[str] = []

    async def solve(name: str, body: str) -> None:
        response = await served.http.post("/rule/solve/test", content=body, headers=auth)
        assert response.status_code == 200
        finished.append(name)

    big = asyncio.create_task(solve("bulk", bulk))
    await asyncio.sleep(0)  # the bulk is under way
    await solve("small", json.dumps({"data": INPUT}))
    await big
    assert finished == ["small", "bulk"]


async def test_the_stack_answers_a_solve_over_the_header_limit_or_with_a_nul(
    served: Served,
) -> None:
    auth = {"Authorization": f"Bearer {served.solver}"}
    body = json.dumps({"data": INPUT})
    padding = {"X-Padding": "p" * served.app.max_header_bytes}

    too_big = await served.http.post("/rule/solve/test", content=body, headers=auth | padding)
    nul = await served.http.post("/rule/solve/test?x=%00", content=body, headers=auth)

    assert (too_big.status_code, too_big.json()["code"]) == (431, "HEADERS_TOO_LARGE")
    assert (nul.status_code, nul.json()["code"]) == (400, "UNSUPPORTED_CHARACTER")
