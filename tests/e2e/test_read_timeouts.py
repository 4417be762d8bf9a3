"""Read timeouts for headers and bodies (issue 17, point 8), with real sockets
against ``flowjobs serve``: half-open connections that send no headers, or
headers a byte at a time, or less body than announced, are closed; a
long-poll that waits longer than both timeouts is not. Loopback only; every
socket has a timeout, so nothing here can hang."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from typer.testing import CliRunner

from flowjobs.store import upgrade
from support.processes import FLOWS, serving

TIMEOUT = 1.0  # both timeouts, seconds
BOUND = 8.0  # a socket read never waits longer than this
SERVER_ENV = {
    "FLOWJOBS_HEADER_TIMEOUT_SECONDS": str(TIMEOUT),
    "FLOWJOBS_BODY_TIMEOUT_SECONDS": str(TIMEOUT),
}


@dataclass
class Served:
    base_url: str
    address: tuple[str, int]
    key: str


def _cli(url: str, *args: str) -> Any:
    from flowjobs.cli import app

    result = CliRunner().invoke(app, ["--database-url", url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("e2e-read-timeouts")
    url = f"sqlite:///{tmp / 'timeouts.db'}"
    upgrade(url)
    with serving(url, tmp, worker=False, name="timeouts", extra_env=SERVER_ENV) as server:
        assert server.base_url is not None
        _cli(url, "space", "create", "t")
        key = _cli(url, "key", "create", "--space", "t")["key"]
        _cli(url, "rule", "push", str(FLOWS / "sleeper.yaml"), "--space", "t", "--publish")
        parts = urlsplit(server.base_url)
        assert parts.hostname == "127.0.0.1" and parts.port is not None
        yield Served(server.base_url, (parts.hostname, parts.port), key)


def _connect(served: Served) -> socket.socket:
    sock = socket.create_connection(served.address, timeout=BOUND)
    sock.settimeout(BOUND)
    return sock


def _read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (bounded by the socket timeout)."""
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_a_connection_that_sends_nothing_is_answered_408_and_closed(served: Served) -> None:
    with _connect(served) as sock:
        began = time.monotonic()
        answer = _read_until_closed(sock)
        waited = time.monotonic() - began
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b"application/problem+json" in answer and b"REQUEST_TIMEOUT" in answer
    assert TIMEOUT * 0.9 <= waited < BOUND


def test_headers_sent_a_byte_at_a_time_do_not_extend_the_deadline(served: Served) -> None:
    with _connect(served) as sock:
        began = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answered = False
        for _ in range(40):  # a byte every 0.1 s for at most 4 s
            try:
                sock.sendall(b"X")
            except OSError:  # reset by the server
                answered = True
                break
            readable, _, _ = select.select([sock], [], [], 0.1)
            if readable:  # the server answered (408) or closed
                answered = True
                break
        waited = time.monotonic() - began
        answer = _read_until_closed(sock) if answered else b""
    assert answered, "a byte every 0.1 s kept the connection open for 4 s"
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert waited < TIMEOUT + 2


def test_a_body_shorter_than_announced_is_cut_off(served: Served) -> None:
    with _connect(served) as sock:
        sock.sendall(
            b"POST /job/start/sleeper HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer " + served.key.encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            b'{"data": '
        )
        began = time.monotonic()
        answer = _read_until_closed(sock)
        waited = time.monotonic() - began
    assert b"200 OK" not in answer  # no job was started from half a body
    assert TIMEOUT * 0.9 <= waited < BOUND


def test_many_half_open_connections_are_all_closed(served: Served) -> None:
    sockets = [_connect(served) for _ in range(100)]
    try:
        began = time.monotonic()
        for sock in sockets:
            _read_until_closed(sock)
        assert time.monotonic() - began < BOUND
    finally:
        for sock in sockets:
            sock.close()
    assert httpx.get(f"{served.base_url}/healthz", timeout=5).status_code == 200


def test_a_long_poll_longer_than_the_timeouts_is_not_cut(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.key}"}
    with httpx.Client(base_url=served.base_url, headers=headers, timeout=15) as http:
        job = http.post("/job/start/sleeper", json={"data": {}}).json()
        began = time.monotonic()
        polled = http.get(f"/job/{job['jobId']}?wait={TIMEOUT * 3}")
        assert polled.status_code == 200
        assert time.monotonic() - began >= TIMEOUT * 3 * 0.9  # it waited
        # the same keep-alive connection serves the next request
        assert http.get(f"/job/{job['jobId']}").status_code == 200
