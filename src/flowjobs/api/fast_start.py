"""The start routes without FastAPI's per-request machinery.

``POST /job/start/{identifier}`` is the hot path of the API. Through FastAPI
a start solves nine parameters and dependencies (a quarter of its CPU in the
profiles of docs/performance.md) and passes the middleware stack and the
router. :class:`FastStartRoute`, a plain ASGI route that ``FastRoutes``
(api/fast_routes.py) tries before the middleware stack, matches only
ordinary starts: a Bearer key, no ``Idempotency-Key``, at most a plain
``priority`` in the query, an ``X-Correlation-Id`` within its length. It
runs the start core (api/start_core.py) that the FastAPI route runs too and
writes the same bytes (pydantic's ``dump_json`` of :class:`Job`, as FastAPI
does, and the same headers); ``FastRoutes`` does for it what the stack does
for a route (header limit, metrics, problems, 500). Any other request goes
on to the stack and the FastAPI routes: malformed requests get FastAPI's own
answers, and the OpenAPI document, built from the FastAPI routes, is the
same.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import TypeAdapter
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from flowjobs.api.deps import AppState
from flowjobs.api.start_core import StartOptions, admit_start, start_job
from flowjobs.schemas import Job

START_PATHS = ("/job/start/{identifier}", "/job/start/{identifier}/{version}")
MAX_CORRELATION_ID = 200  # the FastAPI route's max_length
_PRIORITY = re.compile(rb"priority=([0-9]|10)")
_JOB = TypeAdapter(Job)  # what FastAPI serialises a response_model=Job with


_UNSET: Any = object()
_HEADERS = (b"authorization", b"x-correlation-id", b"content-length", b"idempotency-key")


@dataclass(frozen=True, slots=True)
class OrdinaryStart:
    """What the fast path needs from a start's headers and query."""

    secret: str
    correlation_id: str | None
    priority: int | None
    content_length: str


def _priority(query: bytes) -> Any:
    """``priority`` of a query that holds nothing else, None without one,
    ``_UNSET`` for any other query (the FastAPI route judges it)."""
    if not query:
        return None
    found = _PRIORITY.fullmatch(query)
    return _UNSET if found is None else int(found.group(1))


def _first_headers(scope: Scope) -> dict[bytes, str]:
    """The headers the start reads, each at its first occurrence (as
    Starlette's ``headers.get``); ASGI gives the names in lower case."""
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        if name in _HEADERS and name not in found:
            found[name] = value.decode("latin-1")
    return found


def ordinary_start(scope: Scope) -> OrdinaryStart | None:
    """The start's parameters if the fast path can answer it exactly as the
    FastAPI route would; None to hand it to that route."""
    priority = _priority(scope["query_string"])
    headers = _first_headers(scope)
    if priority is _UNSET or b"idempotency-key" in headers:
        return None  # a query to validate, or the transactional idempotent path
    if "\x00" in scope.get("path", ""):
        return None  # the stack's UrlCheck answers 400
    scheme, secret = get_authorization_scheme_param(headers.get(b"authorization"))
    if scheme.lower() != "bearer" or not secret:
        return None  # the FastAPI route's 401
    correlation_id = headers.get(b"x-correlation-id")
    if correlation_id is not None and len(correlation_id) > MAX_CORRELATION_ID:
        return None  # the FastAPI route's 400
    return OrdinaryStart(secret, correlation_id, priority, headers.get(b"content-length", ""))


async def body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    """The request body as Starlette's ``Request.stream()`` reads it."""
    while True:
        message = await receive()
        if message["type"] == "http.request":
            body: bytes = message.get("body", b"")
            if body:
                yield body
            if not message.get("more_body", False):
                return
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


class FastStartRoute(Route):
    """A start route's path and method that match only ordinary starts
    (:func:`ordinary_start`), answered with the start core."""

    def __init__(self, path: str) -> None:
        # the endpoint only names the route: FastRoutes calls handle()
        super().__init__(path, self.handle, methods=["POST"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST":
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        start = ordinary_start(scope) if match is Match.FULL else None
        if start is None:
            return Match.NONE, {}
        child_scope[_START] = start
        return match, child_scope

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The start; an error propagates to ``FastRoutes`` (a problem or the 500)."""
        state: AppState = scope["app"].state.flowjobs
        start: OrdinaryStart = scope[_START]
        params = scope["path_params"]
        admitted = await admit_start(
            state, start.secret, start.content_length, body_chunks(receive)
        )
        options = StartOptions(
            params["identifier"], params.get("version"), start.correlation_id, start.priority
        )
        job = await start_job(state, admitted, options)
        await _send_job(send, job.id, _JOB.dump_json(Job.from_record(job), by_alias=True))


def fast_start_routes() -> list[Route]:
    """The fast routes of ordinary starts, for ``FastRoutes``."""
    return [FastStartRoute(path) for path in START_PATHS]


_START = "flowjobs.start"  # the scope key of a matched start's OrdinaryStart


async def _send_job(send: Send, job_id: str, body: bytes) -> None:
    """The route's 200 answer: the started job's JSON."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
                (b"location", f"/job/{job_id}".encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
