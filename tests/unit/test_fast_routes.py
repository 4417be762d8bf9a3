"""FastRoutes (api/fast_routes.py) does for its routes what the middleware
stack does for a route: the answer of a matched route, a flowjobs error's
problem, the 500 of anything else (raised on to the server), the request
counted under its route template; requests it does not take go to the
stack. Plain ASGI calls, no I/O."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from flowjobs.api.fast_routes import FastRoutes
from flowjobs.errors import NotFoundError
from flowjobs.metrics import Metrics


class Answering(Route):
    """A route at /hot that answers 201, or raises what it is given."""

    def __init__(self, error: Exception | None = None) -> None:
        super().__init__("/hot/{name}", self.handle, methods=["POST"])
        self.error = error

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.error is not None:
            raise self.error
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": scope["path_params"]["name"].encode()})


async def stack(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"stack"})


def request(path: str, metrics: Metrics, headers: int = 0) -> Scope:
    app = SimpleNamespace(state=SimpleNamespace(flowjobs=SimpleNamespace(metrics=metrics)))
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"x-padding", b"p" * headers)],
        "app": app,
    }


async def call(fast: FastRoutes, scope: Scope) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await fast(scope, receive, send)
    return sent


def counted(metrics: Metrics, status: int) -> float:
    labels = {"route": "/hot/{name}", "method": "POST", "status": str(status)}
    value = metrics.registry.get_sample_value("flowjobs_http_requests_total", labels)
    return value or 0.0


def body_of(sent: list[Message]) -> Any:
    return json.loads(b"".join(m.get("body", b"") for m in sent if m["type"].endswith("body")))


async def test_a_matched_request_is_answered_by_its_route_and_counted() -> None:
    metrics = Metrics()

    sent = await call(FastRoutes(stack, [Answering()], 100), request("/hot/a", metrics))

    assert [sent[0]["status"], sent[1]["body"]] == [201, b"a"]
    assert counted(metrics, 201) == 1.0


@pytest.mark.parametrize(
    ("path", "padding"),
    [("/cold", 0), ("/hot/a", 200), ("/hot/a\x00", 0)],  # no route; over the limit; a NUL
)
async def test_anything_else_goes_to_the_stack(path: str, padding: int) -> None:
    metrics = Metrics()

    sent = await call(FastRoutes(stack, [Answering()], 100), request(path, metrics, padding))

    assert sent[0]["status"] == 299
    assert counted(metrics, 299) == 0.0  # the stack counts its own


async def test_a_flowjobs_error_is_its_problem() -> None:
    metrics = Metrics()
    route = Answering(NotFoundError("no such thing"))

    sent = await call(FastRoutes(stack, [route], 100), request("/hot/a", metrics))

    assert sent[0]["status"] == 404
    assert body_of(sent)["code"] == NotFoundError.code
    assert counted(metrics, 404) == 1.0


async def test_an_unexpected_error_is_the_500_problem_and_reaches_the_server() -> None:
    metrics = Metrics()
    route = Answering(RuntimeError("the store fell over"))
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError):
        await FastRoutes(stack, [route], 100)(request("/hot/a", metrics), receive, send)

    assert sent[0]["status"] == 500
    assert body_of(sent)["code"] == "INTERNAL_ERROR"
    assert "fell over" not in json.dumps(body_of(sent))
    assert counted(metrics, 500) == 1.0
