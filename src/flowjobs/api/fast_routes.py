"""Hot routes answered in front of the middleware stack.

A job start and a solve are a few tens or hundreds of microseconds of work;
the middleware stack every request passes (Starlette's error middleware,
FastAPI's layers, the header limit, the URL check, the request metrics, the
exception middleware, the router) costs about a sixth of a start's CPU
(docs/performance.md, "one start path"). :class:`FastRoutes` sits in front
of that stack (``JobsApi.build_middleware_stack``, api/app.py), behind
FastAPI's OpenTelemetry when it is on. It hands a request that one of its
routes matches (api/fast_start.py, api/fast_solve.py: plain ASGI routes,
which run the same core as their FastAPI routes) to that route, and does
once, for all of them, what the stack does for a route: a request over the
header limit or with a NUL in its URL goes on to the stack (its 431 or
400); the request is counted under its route template as ``RequestMetrics``
counts it; a flowjobs error gets the problem of the app's handler; any other
error gets the app's 500 problem and propagates to the server's log, as
``ServerErrorMiddleware`` does. Every other request goes on to the stack.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowjobs.api.deps import AppState
from flowjobs.api.header_limit import header_bytes
from flowjobs.api.problems import flowjobs_problem, unexpected_problem
from flowjobs.api.url_check import nul_in_url
from flowjobs.errors import FlowjobsError


class FastRoutes:
    """Pure ASGI: ``routes`` first, then the middleware stack (``app``)."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute], max_header_bytes: int) -> None:
        self.app = app  # named so: FastAPI's telemetry walks a stack by ``app``
        self.routes = routes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route(scope)
        if route is None:
            await self.app(scope, receive, send)
        else:
            await self._answer(route, scope, receive, send)

    def _route(self, scope: Scope) -> BaseRoute | None:
        """The route that answers this request; its scope gets what the
        router would set (path parameters, ``route``)."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        for route in self.routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                if header_bytes(scope) > self.max_header_bytes or nul_in_url(scope):
                    return None  # the stack's HeaderLimit or UrlCheck answers
                scope.update(child_scope)
                scope.setdefault("route", route)  # what FastAPI's routes set: metrics label by it
                return route
        return None

    async def _answer(self, route: BaseRoute, scope: Scope, receive: Receive, send: Send) -> None:
        state: AppState = scope["app"].state.flowjobs
        started = time.perf_counter()
        status = 500  # unless a response starts: an error escaped to the server
        responded = False

        async def send_and_note_status(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
            await send(message)

        try:
            try:
                await route.handle(scope, receive, send_and_note_status)
            except FlowjobsError as exc:
                if responded:
                    raise  # nothing more can be sent
                status = exc.status
                await flowjobs_problem(exc)(scope, receive, send)
            except Exception as exc:
                if not responded:
                    await unexpected_problem(exc)(scope, receive, send)
                raise
        finally:
            seconds = time.perf_counter() - started
            state.metrics.request(scope["route"].path, "POST", status, seconds)
