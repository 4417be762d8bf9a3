"""Solver API requests without the framework's per-request machinery, as
api/fast_start.py does for starts: a solve is a few tens of microseconds of
work, so FastAPI's dependencies, the middleware stack and the router would
be most of its cost (docs/rules.md, "Performance").

:class:`JobsApi` (api/app.py) hands ``POST /rule/solve/{rule}[/{version}]``
with a Bearer key to :class:`FastSolves` before the stack. It runs the
FastAPI route's steps in its order (key and kind, body, solve: the shared
``solve_request``), answers the same problems (the app's handler's
functions, with the correlation id) and counts the request as
``RequestMetrics`` does. Any other request (no Bearer key, headers over the
limit) goes on to the stack and the FastAPI routes.
"""

from __future__ import annotations

import time

from fastapi.security.utils import get_authorization_scheme_param
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from flowjobs.api.deps import SOLVER_API, AppState, key_of_kind, read_limited
from flowjobs.api.fast_start import _body_chunks
from flowjobs.api.header_limit import header_bytes
from flowjobs.api.problems import flowjobs_problem, unexpected_problem
from flowjobs.api.routes.solver import (
    CORRELATION,
    SolveHeaders,
    correlation_of,
    solve_request,
)
from flowjobs.domain import KeyKind
from flowjobs.errors import FlowjobsError

PREFIX = "/rule/solve/"
SOLVE_PATHS = (
    "/rule/solve/{identifier}",
    "/rule/solve/{identifier}/",
    "/rule/solve/{identifier}/{version}",
)
_HEADERS = {
    b"authorization": "authorization",
    b"x-strategy": "strategy",
    b"x-correlation-id": "correlation_id",
    b"x-audit": "audit",
    b"x-audit-ttl": "audit_ttl",
    b"content-length": "content_length",
}


def _unrouted() -> None:
    """A solve route here only matches; :class:`FastSolves` answers."""
    raise NotImplementedError


def _read_headers(scope: Scope) -> dict[str, str]:
    """The headers a solve reads, each at its first occurrence."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        field = _HEADERS.get(name)
        if field is not None and field not in found:
            found[field] = value.decode("latin-1")
    return found


class FastSolves:
    """The fast path of Solver API requests, taken before the middleware stack."""

    def __init__(self, max_header_bytes: int) -> None:
        self.max_header_bytes = max_header_bytes
        self.routes = [
            Route(path, _unrouted, methods=["POST"], include_in_schema=False)
            for path in SOLVE_PATHS
        ]

    def takes(self, scope: Scope) -> bool:
        """Whether this is a solve with a Bearer key; if so the scope gets what
        the router would set (path parameters, ``route``)."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        if "\x00" in scope["path"]:
            return False  # the stack's UrlCheck answers 400
        matched = self._match(scope["path"])
        if matched is None:
            return False
        route, params = matched
        headers = _read_headers(scope)
        scheme, secret = get_authorization_scheme_param(headers.get("authorization"))
        if scheme.lower() != "bearer" or not secret:
            return False  # the FastAPI route's 401
        if header_bytes(scope) > self.max_header_bytes:
            return False  # the stack's HeaderLimit answers 431
        scope["path_params"] = params
        scope["route"] = route
        scope["flowjobs.solve"] = (secret, headers)
        return True

    def _match(self, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route of SOLVE_PATHS a path matches, as the router would match
        it (a parameter is one non-empty path segment), and its parameters.
        Split by hand: the router's regular expressions cost more than the solve."""
        if not path.startswith(PREFIX):
            return None
        parts = path[len(PREFIX) :].split("/")
        if not parts[0] or len(parts) > 2:
            return None
        if len(parts) == 1:
            return self.routes[0], {"identifier": parts[0]}
        if not parts[1]:
            return self.routes[1], {"identifier": parts[0]}
        return self.routes[2], {"identifier": parts[0], "version": parts[1]}

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: AppState = scope["app"].state.flowjobs
        started = time.perf_counter()
        status = 500  # unless a response starts: an error escaped to the server
        secret, found = scope["flowjobs.solve"]
        params = scope["path_params"]
        headers = SolveHeaders(
            found.get("strategy"), found.get("correlation_id"), found.get("audit"),
            found.get("audit_ttl"),
        )  # fmt: skip
        correlation_id = correlation_of(headers)
        try:
            try:
                key = await key_of_kind(state.catalog, secret, KeyKind.SOLVER, SOLVER_API)
            except FlowjobsError as exc:  # as the FastAPI route: no correlation id yet
                status = exc.status
                await flowjobs_problem(exc)(scope, receive, send)
                return
            try:
                raw = await read_limited(
                    found.get("content_length", ""),
                    _body_chunks(receive),
                    state.settings.max_body_bytes,
                )
                body, extra = await solve_request(
                    state,
                    key,
                    params["identifier"],
                    params.get("version"),
                    headers,
                    correlation_id,
                    raw,
                )
            except FlowjobsError as exc:
                status = exc.status
                problem = flowjobs_problem(exc)
                problem.headers[CORRELATION] = correlation_id
                await problem(scope, receive, send)
                return
            except Exception as exc:
                await unexpected_problem(exc)(scope, receive, send)
                raise
            status = 200
            await _send(send, body, {CORRELATION: correlation_id, **extra})
        finally:
            seconds = time.perf_counter() - started
            state.metrics.request(scope["route"].path, "POST", status, seconds)


async def _send(send: Send, body: bytes, headers: dict[str, str]) -> None:
    raw_headers = [
        (b"content-length", str(len(body)).encode()),
        (b"content-type", b"application/json"),
        *(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        ),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
