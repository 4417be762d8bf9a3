"""Solver API requests without FastAPI's per-request machinery, as
api/fast_start.py does for starts: a solve is a few tens of microseconds of
work, so FastAPI's dependencies, the middleware stack and the router's
regular expressions would be most of its cost (docs/rules.md,
"Performance").

:class:`FastSolves`, a plain ASGI route that ``FastRoutes``
(api/fast_routes.py) tries before the middleware stack, matches ``POST
/rule/solve/{rule}[/{version}]`` with a Bearer key by splitting the path by
hand. It checks the key and kind as the FastAPI route's dependency does,
then answers with the route's own
:func:`~flowjobs.api.routes.solver.answer_solve`: the same steps, problems
(with the correlation id) and bytes. A refused key propagates to
``FastRoutes`` (the app handler's problem, without a correlation id, as from
the route's dependency). A solve without a Bearer key goes on to the
FastAPI route.
"""

from __future__ import annotations

from fastapi.security.utils import get_authorization_scheme_param
from starlette.routing import BaseRoute, Match, Route
from starlette.types import Receive, Scope, Send

from flowjobs.api.deps import SOLVER_API, AppState, key_of_kind
from flowjobs.api.fast_start import body_chunks
from flowjobs.api.routes.solver import SolveHeaders, answer_solve
from flowjobs.domain import KeyKind

PREFIX = "/rule/solve/"
SOLVE_PATHS = (
    "/rule/solve/{identifier}",
    "/rule/solve/{identifier}/",
    "/rule/solve/{identifier}/{version}",
)
_SOLVE = "flowjobs.solve"  # the scope key of a matched solve's secret and headers
_HEADERS = {
    b"authorization": "authorization",
    b"x-strategy": "strategy",
    b"x-correlation-id": "correlation_id",
    b"x-audit": "audit",
    b"x-audit-ttl": "audit_ttl",
    b"content-length": "content_length",
}


def _unrouted() -> None:
    """The routes of SOLVE_PATHS here only name the template (the metrics'
    label); :class:`FastSolves` matches and answers."""
    raise NotImplementedError


def _read_headers(scope: Scope) -> dict[str, str]:
    """The headers a solve reads, each at its first occurrence."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        field = _HEADERS.get(name)
        if field is not None and field not in found:
            found[field] = value.decode("latin-1")
    return found


class FastSolves(BaseRoute):
    """The fast route of Solver API requests with a Bearer key."""

    def __init__(self) -> None:
        self.routes = [
            Route(path, _unrouted, methods=["POST"], include_in_schema=False)
            for path in SOLVE_PATHS
        ]

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """A solve with a Bearer key; its scope gets what the router would
        set (path parameters, ``route``)."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return Match.NONE, {}
        matched = self._match(scope["path"])
        if matched is None:
            return Match.NONE, {}
        route, params = matched
        headers = _read_headers(scope)
        scheme, secret = get_authorization_scheme_param(headers.get("authorization"))
        if scheme.lower() != "bearer" or not secret:
            return Match.NONE, {}  # the FastAPI route's 401
        # the template matched is the route the metrics label by
        return Match.FULL, {"path_params": params, "route": route, _SOLVE: (secret, headers)}

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

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The FastAPI route's steps: key and kind, then the route's own answer."""
        state: AppState = scope["app"].state.flowjobs
        secret, found = scope[_SOLVE]
        params = scope["path_params"]
        key = await key_of_kind(state.catalog, secret, KeyKind.SOLVER, SOLVER_API)
        headers = SolveHeaders(
            found.get("strategy"), found.get("correlation_id"), found.get("audit"),
            found.get("audit_ttl"),
        )  # fmt: skip
        response = await answer_solve(
            state,
            key,
            params["identifier"],
            params.get("version"),
            headers,
            found.get("content_length", ""),
            body_chunks(receive),
        )
        await response(scope, receive, send)


def fast_solve_routes() -> list[BaseRoute]:
    """The fast route of solves, for ``FastRoutes``."""
    return [FastSolves()]
