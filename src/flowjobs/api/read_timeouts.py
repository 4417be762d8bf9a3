"""Read timeouts for request headers and bodies, which uvicorn lacks.

uvicorn's ``timeout_keep_alive`` runs only between two requests of a
connection: a connection that never sends its first request line, sends its
headers a byte a minute, or announces a body it never sends is kept for as
long as the client likes (1,000 such connections stayed for minutes, issue
17). This wraps uvicorn's HTTP protocol (httptools when installed, else h11)
with two bounds, checked by one timer per connection:

- the headers of a request must be complete within ``header_timeout``
  seconds of the connection being made, or of the first byte after the
  previous response (slowloris sending a byte now and then gains nothing);
  else the server answers 408 and closes;
- while a request's body is incomplete, the client must send some of it at
  least every ``body_timeout`` seconds; else the connection is closed (the
  app's ``receive()`` then sees ``http.disconnect``).

While the app works on a complete request (a long-poll, an event stream)
nothing is timed: the client has nothing more to send.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

PROBLEM = {
    "type": "https://flowjobs.dev/problems/request-timeout",
    "title": "Request Timeout",
    "status": 408,
    "code": "REQUEST_TIMEOUT",
    "detail": "The request's headers did not arrive in time (FLOWJOBS_HEADER_TIMEOUT_SECONDS)",
}
_BODY = json.dumps(PROBLEM).encode()
TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/problem+json\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class ReadTimeoutProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol with header and body read timeouts; subclassed
    with the timeouts set by :func:`protocol_with_read_timeouts`."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None
        self._phase: str | None = None  # "headers", "body" or None (nothing awaited)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():
            self._stop_timer()
        elif self._in_body():
            self._arm("body", self.body_timeout)  # progress: the idle time starts again
        elif self._between_requests():
            if self._phase != "headers":  # the first bytes of the next request
                self._await_headers()
        else:
            self._stop_timer()  # the request is complete: the app has it

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle until the next request: uvicorn's keep-alive timeout applies;
        # the header deadline starts with that request's first byte.
        self._stop_timer()

    # ---- the timer ----------------------------------------------------------------

    def _between_requests(self) -> bool:
        cycle = self.cycle
        return cycle is None or bool(cycle.response_complete)

    def _in_body(self) -> bool:
        cycle = self.cycle
        return (
            cycle is not None
            and not cycle.response_complete
            and bool(cycle.more_body)
            and not self.flow.read_paused  # the app is behind, not the client
        )

    def _await_headers(self) -> None:
        self._arm("headers", self.header_timeout)

    def _arm(self, phase: str, seconds: float) -> None:
        self._stop_timer()
        self._phase = phase
        self._read_timer = self.loop.call_later(seconds, self._timed_out)

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        self._phase = None

    def _timed_out(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self._phase == "headers" and self._between_requests():
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()
        elif self._phase == "body" and self.cycle is not None and self._in_body():
            self.transport.close()
        elif self._phase == "body" and self.flow.read_paused:
            self._arm("body", self.body_timeout)  # the app is behind: look again later
        else:
            self._phase = None


def protocol_with_read_timeouts(header_timeout: float, body_timeout: float) -> type[Any]:
    """uvicorn's ``http=`` protocol class with these timeouts (seconds)."""
    return type(
        "FlowjobsHTTPProtocol",
        (ReadTimeoutProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
