"""A NUL character (U+0000) is refused anywhere in a request's URL.

Path ids and query parameters reach the database as text; PostgreSQL's
``text`` cannot hold a NUL (the driver refuses the statement) while SQLite
can. So a ``%00`` in a path or a query is answered here, before any route,
with ``400 UNSUPPORTED_CHARACTER`` on both databases, rather than as a
failed statement (``503 STORE_ERROR``, which says "retry") on one of them.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from flowjobs.api.problems import problem_response
from flowjobs.errors import UnsupportedCharacterError


def nul_in_url(scope: Scope) -> bool:
    """Whether the decoded path, or the query once decoded, holds a NUL."""
    path: str = scope.get("path", "")
    return "\x00" in path or b"%00" in scope.get("query_string", b"")


class UrlCheck:
    """Pure ASGI middleware: 400 for a URL with a NUL character."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and nul_in_url(scope):
            error = UnsupportedCharacterError(
                "The URL holds a NUL character (U+0000, %00), which flowjobs does not "
                "accept in ids or query parameters"
            )
            response = problem_response(error.status, error.code, error.message)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
