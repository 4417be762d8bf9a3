"""The fast start route (api/fast_start.py) answers exactly what the FastAPI
start route answers: the same status, headers and bytes, for a start and for
its errors. A query parameter the fast path does not know sends the same
request to the FastAPI route, so the two can be compared side by side."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from flowjobs.api.app import JobsApi, create_app
from flowjobs.api.fast_start import FastStartRoute
from flowjobs.config import Settings
from flowjobs.domain import KeyKind
from support.env import MakeEnv, flow

Handle = Callable[[Scope, Receive, Send], Awaitable[None]]
TO_FASTAPI = "unused=1"  # the fast path leaves any other query to FastAPI


@pytest.fixture
async def app(db_url: str, make_env: MakeEnv) -> AsyncIterator[JobsApi]:
    env = await make_env()
    space, _ = await env.space_with_key("s")
    created = await env.catalog.create_key(space.id, KeyKind.SOLVER, "fast")
    await env.push(space, flow("echo"))
    settings = Settings(database_url=db_url, log_level="WARNING", max_header_bytes=4096)
    app = create_app(settings, run_worker=False)
    app.state.secret = created.secret
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # the app's exceptions come back as the server would answer them (500), not raised
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {app.state.secret}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=headers
    ) as client:
        yield client


@pytest.fixture
def fast_answers(app: JobsApi, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests the fast routes answered."""
    routes = [route for route in app.fast_routes if isinstance(route, FastStartRoute)]
    assert len(routes) == 2
    answered: list[str] = []
    for route in routes:
        handle = route.handle

        async def noted(
            scope: Scope, receive: Receive, send: Send, handle: Handle = handle
        ) -> None:
            answered.append(scope["path"])
            await handle(scope, receive, send)

        monkeypatch.setattr(route, "handle", noted)
    return answered


def same_but_ids(fast: httpx.Response, slow: httpx.Response) -> None:
    """Equal bytes once the job id and timestamps of one are put in the other."""
    assert fast.status_code == slow.status_code
    fast_job, slow_job = fast.json(), slow.json()
    body = fast.content
    for field in ("jobId", "createdAt", "updatedAt"):
        body = body.replace(fast_job[field].encode(), slow_job[field].encode())
    assert body == slow.content
    assert [k for k, _ in fast.headers.raw] == [k for k, _ in slow.headers.raw]
    assert fast.headers["location"] == f"/job/{fast_job['jobId']}"


async def test_a_start_answers_the_same_bytes_on_both_paths(
    client: httpx.AsyncClient, fast_answers: list[str]
) -> None:
    body = json.dumps({"data": {"name": "Ada", "ü": [1.5, None]}})
    headers = {"X-Correlation-Id": "order-1", "Content-Type": "application/json"}

    fast = await client.post("/job/start/echo?priority=3", content=body, headers=headers)
    slow = await client.post(
        f"/job/start/echo/latest?priority=3&{TO_FASTAPI}", content=body, headers=headers
    )

    assert fast.status_code == 200, fast.text
    assert fast_answers == ["/job/start/echo"]  # and the other went to the FastAPI route
    same_but_ids(fast, slow)
    assert fast.json()["correlationId"] == "order-1"
    assert fast.json()["context"]["priority"] == 3


@pytest.mark.parametrize(
    ("path", "content", "headers"),
    [
        ("/job/start/missing", b"{}", {}),  # 404
        ("/job/start/echo/7", b"{}", {}),  # version 404
        ("/job/start/echo/x", b"{}", {}),  # 400 INVALID_VERSION
        ("/job/start/echo", b"{", {}),  # 400 INVALID_JSON
        ("/job/start/echo", b"[" * 100 + b"]" * 100, {}),  # JSON_TOO_DEEP
        ("/job/start/echo", b"{}", {"Authorization": "Bearer not-a-key"}),  # 401
    ],
)
async def test_errors_are_the_same_on_both_paths(
    client: httpx.AsyncClient, path: str, content: bytes, headers: dict[str, str]
) -> None:
    fast = await client.post(path, content=content, headers=headers)
    slow = await client.post(f"{path}?{TO_FASTAPI}", content=content, headers=headers)

    assert fast.status_code >= 400
    assert (fast.status_code, fast.content) == (slow.status_code, slow.content)
    assert fast.headers.raw == slow.headers.raw


async def test_headers_over_the_limit_get_the_431_of_the_middleware_stack(
    client: httpx.AsyncClient, fast_answers: list[str]
) -> None:
    padding = {"X-Padding": "p" * 5000}

    answer = await client.post("/job/start/echo", content=b"{}", headers=padding)

    assert answer.status_code == 431
    assert answer.json()["code"] == "HEADERS_TOO_LARGE"
    assert fast_answers == []


async def test_an_unexpected_error_is_the_same_500_problem_on_both_paths(
    app: FastAPI,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    fast_answers: list[str],
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(app.state.flowjobs.manager, "start", broken)

    fast = await client.post("/job/start/echo", content=b"{}")
    slow = await client.post(f"/job/start/echo?{TO_FASTAPI}", content=b"{}")

    assert fast_answers == ["/job/start/echo"]
    for answer in (fast, slow):
        assert answer.status_code == 500
        assert answer.json()["code"] == "INTERNAL_ERROR"
        assert "the store fell over" not in answer.text  # a reference, not the error
    assert [k for k, _ in fast.headers.raw] == [k for k, _ in slow.headers.raw]


async def test_fast_starts_are_counted_by_route_template_and_status(
    app: FastAPI, client: httpx.AsyncClient, fast_answers: list[str]
) -> None:
    metrics = app.state.flowjobs.metrics

    def counted(status: str) -> float:
        labels = {"route": "/job/start/{identifier}", "method": "POST", "status": status}
        value = metrics.registry.get_sample_value("flowjobs_http_requests_total", labels)
        return value or 0.0

    await client.post("/job/start/echo", content=b"{}")
    await client.post("/job/start/echo", content=b"{}")
    await client.post("/job/start/missing", content=b"{}")

    assert (counted("200"), counted("404")) == (2.0, 1.0)
    assert len(fast_answers) == 3
