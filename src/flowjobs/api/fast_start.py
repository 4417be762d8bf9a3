"""The start routes without the framework's per-request machinery.

``POST /job/start/{identifier}`` is the hot path of the API. Through FastAPI
a start solves nine parameters and dependencies (a quarter of its CPU in the
profiles of docs/performance.md) and passes the middleware stack and the
router. :class:`JobsApi` (api/app.py) hands an ordinary start to
:class:`FastStarts` before all of them: a Bearer key, no ``Idempotency-Key``,
at most a plain ``priority`` in the query, an ``X-Correlation-Id`` within its
length. It runs the same checks in the same order as the FastAPI route (key,
kind, rate, body size and JSON, then the start), answers the same problems
(the app's handler's functions), counts the request as ``RequestMetrics``
does and writes the same bytes (pydantic's ``dump_json`` of :class:`Job`, as
FastAPI does, and the same headers). Any other request goes on to the
middleware stack and the FastAPI routes: malformed requests get FastAPI's own
answers, and the OpenAPI document, built from the FastAPI routes, is the same.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from pydantic import TypeAdapter
from starlette.requests import ClientDisconnect
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from flowjobs.api.deps import (
    SOLVER_API,
    AppState,
    key_of_kind,
    parse_json,
    read_limited,
    take_start_token,
    unwrap_input,
)
from flowjobs.api.header_limit import header_bytes
from flowjobs.api.problems import flowjobs_problem, unexpected_problem
from flowjobs.domain import KeyKind
from flowjobs.errors import FlowjobsError
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


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
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
    (:func:`ordinary_start`); :class:`FastStarts` answers what it matches."""

    def __init__(self, path: str) -> None:
        super().__init__(path, _unrouted, methods=["POST"], include_in_schema=False)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "POST":
            return Match.NONE, {}
        match, child_scope = super().matches(scope)
        start = ordinary_start(scope) if match is Match.FULL else None
        if start is None:
            return Match.NONE, {}
        child_scope[_START] = start
        return match, child_scope


_START = "flowjobs.start"  # the scope key of a matched start's OrdinaryStart


def _unrouted() -> None:
    """A :class:`FastStartRoute` only matches; :class:`FastStarts` answers."""
    raise NotImplementedError


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


async def _start(
    state: AppState, start: OrdinaryStart, params: dict[str, Any], receive: Receive
) -> tuple[str, bytes]:
    """The FastAPI route's steps in its order (key and kind, rate, body, start)."""
    key = await key_of_kind(state.catalog, start.secret, KeyKind.SOLVER, SOLVER_API)
    take_start_token(state, key)
    settings = state.settings
    raw = await read_limited(start.content_length, _body_chunks(receive), settings.max_body_bytes)
    job = await state.manager.start(
        key,
        params["identifier"],
        params.get("version"),
        unwrap_input(parse_json(raw, max_depth=settings.max_json_depth)),
        correlation_id=start.correlation_id,
        priority=start.priority,
    )
    return job.id, _JOB.dump_json(Job.from_record(job), by_alias=True)


class FastStarts:
    """The fast path of ordinary starts, taken by :class:`JobsApi` before its
    middleware stack. What that stack does for a start is done here, in its
    order: the header limit (a start over it goes on to the stack, whose
    ``HeaderLimit`` answers 431), the request metrics, the problem of a
    flowjobs error (the app's handler's function) and, for anything else, the
    app's 500 problem before the error propagates to the server's log (as
    Starlette's ``ServerErrorMiddleware`` does). Every other request goes on
    to the stack and the FastAPI routes."""

    def __init__(self, max_header_bytes: int) -> None:
        self.max_header_bytes = max_header_bytes
        self.routes = [FastStartRoute(path) for path in START_PATHS]

    def takes(self, scope: Scope) -> bool:
        """Whether this is an ordinary start; if so the scope gets what the
        router would set (path parameters, ``route``)."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                if header_bytes(scope) > self.max_header_bytes:
                    return False  # the stack's HeaderLimit answers 431
                scope.update(child_scope)
                scope["route"] = route  # what the router sets: metrics label by it
                return True
        return False

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: AppState = scope["app"].state.flowjobs
        started = time.perf_counter()
        status = 500  # unless a response starts: an error escaped to the server
        try:
            try:
                job_id, body = await _start(state, scope[_START], scope["path_params"], receive)
            except FlowjobsError as exc:  # raised before anything was sent
                status = exc.status
                await flowjobs_problem(exc)(scope, receive, send)
                return
            except Exception as exc:
                await unexpected_problem(exc)(scope, receive, send)
                raise
            status = 200
            await _send_job(send, job_id, body)
        finally:
            seconds = time.perf_counter() - started
            state.metrics.request(scope["route"].path, "POST", status, seconds)
