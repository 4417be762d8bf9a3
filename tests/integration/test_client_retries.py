"""The client retries, a bounded number of times, a call that could not
connect and a 503 of a call that is safe to repeat, against a real HTTP
server on the loopback address (the standard library's)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from flowjobs.client import JobsClient, ServiceUnavailable, _Retry
from support.processes import free_port

JOB = {
    "jobId": "j1",
    "correlationId": "c1",
    "ruleReference": {"baseId": "b", "version": 1, "type": "integration-flow"},
    "context": {
        "spaceId": "s",
        "billingUserId": "s",
        "executorUser": None,
        "usedApiKeyId": "k",
        "environmentGroup": "production",
        "priority": 0,
        "parallelLimit": 1,
    },
    "status": {"state": "WAITING", "code": "JOB_INITIALIZED", "message": "Job initialized"},
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:00Z",
    "apiKey": {"id": "k", "name": "key"},
}
PROBLEM = {"title": "Unavailable", "status": 503, "detail": "database down", "code": "STORE"}


class Busy:
    """Answers 503 to the first ``busy`` requests, then the job."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.requests: list[str] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                owner.requests.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, body = (503, PROBLEM) if len(owner.requests) <= owner.busy else (200, JOB)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 503:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@contextmanager
def serving(busy: Busy, port: int = 0) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", port), busy.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_503_of_a_read_is_retried_until_it_answers() -> None:
    busy = Busy(2)
    with serving(busy) as url, JobsClient(url, "fjs_x", retries=3, retry_pause=0) as client:
        assert client.info("j1").jobId == "j1"
    assert busy.requests == ["GET /job/j1"] * 3


def test_retries_are_bounded() -> None:
    busy = Busy(10)
    with (
        serving(busy) as url,
        JobsClient(url, "fjs_x", retries=2, retry_pause=0) as client,
        pytest.raises(ServiceUnavailable),
    ):
        client.info("j1")
    assert len(busy.requests) == 3


def test_a_start_is_repeated_after_a_503_only_with_an_idempotency_key() -> None:
    plain, keyed = Busy(1), Busy(1)
    with (
        serving(plain) as url,
        JobsClient(url, "fjs_x", retry_pause=0) as client,
        pytest.raises(ServiceUnavailable),
    ):
        client.start("echo", {})
    with serving(keyed) as url, JobsClient(url, "fjs_x", retry_pause=0) as client:
        assert client.start("echo", {}, idempotency_key="order-1").jobId == "j1"
    assert (len(plain.requests), len(keyed.requests)) == (1, 2)


class StartsServerInThePause(_Retry):
    """The retry policy, whose first pause starts the server the client
    could not connect to (so the second try finds it, deterministically)."""

    def __init__(self, start: object) -> None:
        super().__init__(retries=3, first_pause=0)
        self.start = start
        self.pauses = 0

    def pause(self, attempt: int, response: httpx.Response | None = None) -> float:
        self.pauses += 1
        if self.pauses == 1:
            self.start()  # type: ignore[operator]
        return 0.0


def test_a_refused_connection_is_retried() -> None:
    port = free_port()
    busy = Busy(0)
    started: list[object] = []

    def start() -> None:
        context = serving(busy, port)
        context.__enter__()
        started.append(context)

    with JobsClient(f"http://127.0.0.1:{port}", "fjs_x") as client:
        policy = StartsServerInThePause(start)
        client._retry = policy
        try:
            job = client.start("echo", {})  # not sent before: safe to send again
        finally:
            for context in started:
                context.__exit__(None, None, None)  # type: ignore[attr-defined]
    assert job.jobId == "j1" and policy.pauses == 1 and busy.requests == ["POST /job/start/echo"]


def test_a_refused_connection_still_refused_raises_after_the_retries() -> None:
    policy = StartsServerInThePause(lambda: None)
    with JobsClient(f"http://127.0.0.1:{free_port()}", "fjs_x") as client:
        client._retry = policy
        with pytest.raises(httpx.ConnectError):
            client.info("j1")
    assert policy.pauses == 3
