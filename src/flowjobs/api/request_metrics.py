"""Count and time every HTTP request by its route template (``/job/{jobId}``,
not the path with the id), so that ids never become label values."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flowjobs.metrics import Metrics

UNMATCHED = "unmatched"  # no route: 404s of unknown paths share one label


class RequestMetrics:
    """Pure ASGI middleware (no response buffering, so event streams pass)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an error escaped to the server

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.request(route, scope["method"], status, time.perf_counter() - started)
