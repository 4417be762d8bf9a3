"""The fast start path (api/fast_start.py) answers exactly what the FastAPI
start route answers: the same status, headers and bytes, for a start and for
its errors. A query parameter the fast path does not know sends the same
request to the FastAPI route, so the two can be compared side by side."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from flowjobs.api.app import create_app
from flowjobs.config import Settings
from flowjobs.domain import KeyKind
from support.env import MakeEnv, flow

TO_FASTAPI = "unused=1"  # the fast path leaves any other query to FastAPI


@pytest.fixture
async def client(db_url: str, make_env: MakeEnv) -> AsyncIterator[httpx.AsyncClient]:
    env = await make_env()
    space, _ = await env.space_with_key("s")
    created = await env.catalog.create_key(space.id, KeyKind.SOLVER, "fast")
    await env.push(space, flow("echo"))
    app = create_app(Settings(database_url=db_url, log_level="WARNING"), run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {created.secret}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=headers
        ) as client:
            yield client


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


async def test_a_start_answers_the_same_bytes_on_both_paths(client: httpx.AsyncClient) -> None:
    body = json.dumps({"data": {"name": "Ada", "ü": [1.5, None]}})
    headers = {"X-Correlation-Id": "order-1", "Content-Type": "application/json"}

    fast = await client.post("/job/start/echo?priority=3", content=body, headers=headers)
    slow = await client.post(
        f"/job/start/echo/latest?priority=3&{TO_FASTAPI}", content=body, headers=headers
    )

    assert fast.status_code == 200, fast.text
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
