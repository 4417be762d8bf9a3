"""A bound on the size of a request's headers, whatever HTTP parser serves it.

uvicorn's parsers differ (h11 refuses past 16 KiB; httptools has no limit of
its own), so the app answers 431 with a problem body past
``FLOWJOBS_MAX_HEADER_BYTES`` before any route or dependency sees the request.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from flowjobs.api.problems import problem_response
from flowjobs.errors import HeadersTooLargeError


def header_bytes(scope: Scope) -> int:
    """The size the limit counts: every header's name and value."""
    return sum(len(name) + len(value) for name, value in scope["headers"])


class HeaderLimit:
    """Pure ASGI middleware: headers' names and values are added up."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and header_bytes(scope) > self.max_bytes:
            error = HeadersTooLargeError(
                f"The request headers are larger than {self.max_bytes} bytes "
                "(FLOWJOBS_MAX_HEADER_BYTES)"
            )
            response = problem_response(error.status, error.code, error.message)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
