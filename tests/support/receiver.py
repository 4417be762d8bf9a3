"""A webhook receiver on 127.0.0.1: a small threaded HTTP server that records
every request, answers the statuses a test scripts (then 200), can be slow,
and can be stopped and started again on the same port (refused meanwhile)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_DELAY = 10.0  # seconds: a slow receiver never hangs a test for longer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the receiver answered

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed

    @property
    def signature(self) -> str:
        return self.headers.get("x-webhook-signature", "")

    def signed_with(self, secret: str) -> bool:
        """The documented check: lowercase hex HMAC-SHA256 of the body bytes."""
        expected = hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.signature)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a sender that hung up (a cut-short attempt) is part of the tests


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: deque[int] = deque()  # statuses to answer first, then 200
        self.delay = 0.0  # seconds before answering
        self.port = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> Receiver:
        server = _Server(("127.0.0.1", self.port), self._handler())
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the port: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self.script.extend(statuses)

    def requests(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def accepted(self) -> list[Received]:
        return [r for r in self.requests() if 200 <= r.status < 300]

    def _next_status(self) -> int:
        with self._lock:
            return self.script.popleft() if self.script else 200

    def _record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver._next_status()
                time.sleep(min(receiver.delay, MAX_DELAY))
                receiver._record(
                    Received(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body, status
                    )
                )
                answer = b"ok" if status < 300 else b'{"error": "receiver says no"}'
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass  # keep the test output clean

        return Handler
