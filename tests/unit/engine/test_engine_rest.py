"""The ``rest`` node against a real HTTP server on 127.0.0.1 (a thread).

Only loopback traffic: targets that the guard refuses are refused before any
connection is made.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from flowjobs.engine import EngineServices, RestPolicy, RunContext, compile_flow, run_flow
from flowjobs.errors import FlowExecutionError, FlowValidationError

ALLOW_LOOPBACK = RestPolicy(allow=("127.0.0.1",))


class _Server:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.slow_started = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def hit(self, key: str) -> int:
        with self.lock:
            self.hits[key] = self.hits.get(key, 0) + 1
            return self.hits[key]


class _Handler(BaseHTTPRequestHandler):
    @property
    def owner(self) -> _Server:
        owner: _Server = getattr(self.server, "owner")  # noqa: B009
        return owner

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        length: bool = True,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any, **kwargs: Any) -> None:
        self._send(status, json.dumps(value).encode(), **kwargs)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v if len(v) > 1 else v[0] for k, v in parse_qs(parts.query).items()}
        route = getattr(self, "route_" + parts.path.strip("/"), None)
        if route is None:
            self._send(404, b"no such route", "text/plain")
        else:
            route(query)

    def route_echo(self, query: dict[str, Any]) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        self._json(
            200,
            {
                "method": self.command,
                "query": query,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
            },
        )

    def route_flaky(self, query: dict[str, Any]) -> None:
        count = self.owner.hit(query["key"])
        if count <= int(query["fail"]):
            self._send(int(query.get("status", 503)), b"try later", "text/plain")
        else:
            self._json(200, {"attempt": count})

    def route_limited(self, query: dict[str, Any]) -> None:
        count = self.owner.hit(query["key"])
        if count == 1:
            self._send(429, b"slow down", "text/plain", {"Retry-After": "1"})
        else:
            self._json(200, {"attempt": count})

    def route_status(self, query: dict[str, Any]) -> None:
        self._send(int(query["code"]), b"E" * 2000, "text/plain")

    def route_text(self, query: dict[str, Any]) -> None:
        self._send(200, "plain text \u00fc".encode(), "text/plain; charset=utf-8")

    def route_badjson(self, query: dict[str, Any]) -> None:
        self._send(200, b"{not json", "application/json")

    def route_big(self, query: dict[str, Any]) -> None:
        body = b"x" * int(query["n"])
        self._send(200, body, "text/plain", length=query.get("length") == "1")

    def route_redirect(self, query: dict[str, Any]) -> None:
        self._send(int(query.get("code", 302)), b"", "text/plain", {"Location": query["to"]})

    def route_slow(self, query: dict[str, Any]) -> None:
        self.owner.slow_started.set()
        self.owner.stop.wait(float(query["seconds"]))
        self._json(200, {"slow": True})


@pytest.fixture
def server() -> Iterator[_Server]:
    instance = _Server()
    instance.thread.start()
    yield instance
    instance.stop.set()
    instance.httpd.shutdown()
    instance.httpd.server_close()


async def run_rest(
    make_ctx: Any, node: dict[str, Any], input_data: Any = None, policy: RestPolicy = ALLOW_LOOPBACK
) -> Any:
    flow = compile_flow(
        {
            "name": "rest test",
            "nodes": [
                {"id": "call", "type": "rest", **node},
                {"id": "out", "type": "end", "output": "call"},
            ],
        }
    )
    return await run_flow(flow, make_ctx(input_data), services=EngineServices(rest=policy))


async def test_get_json_with_headers_and_query(server: _Server, make_ctx: Any) -> None:
    result = await run_rest(
        make_ctx,
        {
            "url": f'"{server.base}/echo?fixed=1"',
            "headers": {"X-Token": "input.token", "X-Count": "3", "X-None": "null"},
            "query": '{"q": input.q, "tags": ["a", "b"]}',
        },
        {"token": "secret", "q": "search me"},
    )
    assert result["status"] == 200
    assert result["headers"]["content-type"] == "application/json"
    body = result["body"]
    assert body["method"] == "GET"
    assert body["query"] == {"fixed": "1", "q": "search me", "tags": ["a", "b"]}
    assert body["headers"]["x-token"] == "secret"
    assert body["headers"]["x-count"] == "3"
    assert "x-none" not in body["headers"]
    assert body["headers"]["host"] == server.base.removeprefix("http://")


async def test_literal_url_post_json_body(server: _Server, make_ctx: Any) -> None:
    result = await run_rest(
        make_ctx,
        {
            "method": "post",
            "url": f"{server.base}/echo",
            "body": '{"name": input.name, "n": [1, 2]}',
        },
        {"name": "Ann"},
    )
    body = result["body"]
    assert body["method"] == "POST"
    assert json.loads(body["body"]) == {"name": "Ann", "n": [1, 2]}
    assert body["headers"]["content-type"] == "application/json"


async def test_method_expression_and_text_body(server: _Server, make_ctx: Any) -> None:
    result = await run_rest(
        make_ctx,
        {
            "method": "input.verb",
            "url": f"{server.base}/echo",
            "headers": '{"Content-Type": "text/csv"}',
            "body": '"a,b\\n1,2"',
        },
        {"verb": "put"},
    )
    assert result["body"]["method"] == "PUT"
    assert result["body"]["body"] == "a,b\n1,2"
    assert result["body"]["headers"]["content-type"] == "text/csv"


async def test_retry_on_503_then_success(server: _Server, make_ctx: Any) -> None:
    result = await run_rest(
        make_ctx,
        {
            "url": f"{server.base}/flaky?key=a&fail=2",
            "retry": {"attempts": 3, "backoff": 0.01},
        },
    )
    assert result["status"] == 200
    assert result["body"] == {"attempt": 3}
    assert server.hits["a"] == 3


async def test_no_retry_past_attempts(server: _Server, make_ctx: Any) -> None:
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(
            make_ctx,
            {"url": f"{server.base}/flaky?key=b&fail=5", "retry": {"attempts": 2, "backoff": 0.01}},
        )
    assert info.value.error_type == "HttpStatusError"
    assert "503" in info.value.message and "try later" in info.value.message
    assert server.hits["b"] == 2


async def test_default_is_no_retry(server: _Server, make_ctx: Any) -> None:
    with pytest.raises(FlowExecutionError):
        await run_rest(make_ctx, {"url": f"{server.base}/flaky?key=c&fail=1"})
    assert server.hits["c"] == 1


async def test_expected_5xx_is_not_retried(server: _Server, make_ctx: Any) -> None:
    result = await run_rest(
        make_ctx,
        {
            "url": f"{server.base}/flaky?key=d&fail=1",
            "retry": {"attempts": 3, "backoff": 0.01},
            "expectStatus": ["2xx", 503],
        },
    )
    assert result == {
        "status": 503,
        "headers": result["headers"],
        "body": "try later",
    }
    assert server.hits["d"] == 1


async def test_429_honours_retry_after(server: _Server, make_ctx: Any) -> None:
    started = time.monotonic()
    result = await run_rest(
        make_ctx,
        {"url": f"{server.base}/limited?key=r", "retry": {"attempts": 2, "backoff": 0.01}},
    )
    assert result["body"] == {"attempt": 2}
    assert time.monotonic() - started >= 0.9


@pytest.mark.parametrize(
    ("expect", "code", "ok"),
    [
        (404, 404, True),
        ([200, 404], 404, True),
        ("4xx", 418, True),
        ("2XX", 204, True),
        ("2xx", 404, False),
        ([201, "3xx"], 200, False),
    ],
)
async def test_expect_status_forms(
    server: _Server, make_ctx: Any, expect: Any, code: int, ok: bool
) -> None:
    node = {"url": f"{server.base}/status?code={code}", "expectStatus": expect}
    if ok:
        result = await run_rest(make_ctx, node)
        assert result["status"] == code
        return
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(make_ctx, node)
    assert info.value.error_type == "HttpStatusError"
    assert str(code) in info.value.message
    excerpt = info.value.message.split(": ", 2)[-1]
    assert excerpt == "E" * 500


@pytest.mark.parametrize("bad", ["6xx", 99, [], "abc", True])
def test_invalid_expect_status_is_a_validation_problem(bad: Any) -> None:
    document = {
        "name": "f",
        "nodes": [{"id": "r", "type": "rest", "url": "https://x.test/", "expectStatus": bad}],
    }
    with pytest.raises(FlowValidationError, match="expectStatus"):
        compile_flow(document)


def test_bad_fields_are_validation_problems() -> None:
    document = {
        "name": "f",
        "nodes": [
            {"id": "a", "type": "rest", "url": "input.url +"},
            {"id": "d", "type": "rest", "url": "input.url", "retry": {"attempts": 11}},
            {"id": "b", "type": "rest", "url": "input.url", "headers": {"X": "1 +"}},
            {"id": "c", "type": "rest", "url": "input.url", "requestTimeout": 0},
        ],
    }
    with pytest.raises(FlowValidationError) as info:
        compile_flow(document)
    text = "\n".join(info.value.problems)
    assert "url: invalid JSONata" in text
    assert "retry.attempts" in text
    assert "headers.X: invalid JSONata" in text
    assert "requestTimeout" in text


async def test_text_and_invalid_json_bodies(server: _Server, make_ctx: Any) -> None:
    result = await run_rest(make_ctx, {"url": f"{server.base}/text"})
    assert result["body"] == "plain text \u00fc"
    result = await run_rest(make_ctx, {"url": f"{server.base}/badjson"})
    assert result["body"] == "{not json"


@pytest.mark.parametrize("declared", ["0", "1"])
async def test_body_size_limit(server: _Server, make_ctx: Any, declared: str) -> None:
    policy = RestPolicy(allow=("127.0.0.1",), max_response_bytes=1000)
    result = await run_rest(
        make_ctx, {"url": f"{server.base}/big?n=1000&length={declared}"}, policy=policy
    )
    assert len(result["body"]) == 1000
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(
            make_ctx, {"url": f"{server.base}/big?n=200000&length={declared}"}, policy=policy
        )
    assert info.value.error_type == "ResponseTooLarge"
    assert "1000 bytes" in info.value.message


async def test_redirect_to_allowed_target(server: _Server, make_ctx: Any) -> None:
    target = f"{server.base}/echo?after=redirect"
    result = await run_rest(
        make_ctx,
        {
            "method": "POST",
            "url": f'"{server.base}/redirect?code=302&to=" & $encodeUrlComponent(input.to)',
            "body": '{"a": 1}',
            "headers": {"Authorization": '"Bearer x"'},
        },
        {"to": target},
    )
    body = result["body"]
    assert body["query"] == {"after": "redirect"}
    assert body["method"] == "GET"  # 302 after POST becomes GET, without the body
    assert body["body"] == ""
    assert body["headers"]["authorization"] == "Bearer x"  # same origin keeps it


async def test_307_keeps_method_and_body(server: _Server, make_ctx: Any) -> None:
    result = await run_rest(
        make_ctx,
        {
            "method": "POST",
            "url": f'"{server.base}/redirect?code=307&to=/echo"',
            "body": '"payload"',
        },
    )
    assert result["body"]["method"] == "POST"
    assert result["body"]["body"] == "payload"


async def test_redirect_to_forbidden_target_is_refused(server: _Server, make_ctx: Any) -> None:
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(
            make_ctx,
            {"url": f"{server.base}/redirect?to=http://169.254.169.254/latest/meta-data/"},
        )
    assert info.value.error_type == "ForbiddenTarget"
    assert "169.254.169.254" in info.value.message


async def test_too_many_redirects(server: _Server, make_ctx: Any) -> None:
    policy = RestPolicy(allow=("127.0.0.1",), max_redirects=2)
    loop_url = f"{server.base}/redirect?to=/redirect%3Fto%3D/redirect%253Fto%253D/echo"
    assert (await run_rest(make_ctx, {"url": loop_url}))["status"] == 200
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(make_ctx, {"url": loop_url}, policy=policy)
    assert info.value.error_type == "TooManyRedirects"


async def test_loopback_refused_without_allow(server: _Server, make_ctx: Any) -> None:
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(make_ctx, {"url": f"{server.base}/echo"}, policy=RestPolicy())
    assert info.value.error_type == "ForbiddenTarget"
    assert server.hits == {}


async def test_request_timeout(server: _Server, make_ctx: Any) -> None:
    started = time.monotonic()
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(make_ctx, {"url": f"{server.base}/slow?seconds=5", "requestTimeout": 0.3})
    assert info.value.error_type == "HttpTimeout"
    assert time.monotonic() - started < 2


async def test_cancellation_during_slow_response(server: _Server, make_ctx: Any) -> None:
    before = asyncio.all_tasks()
    ctx: RunContext = make_ctx(None)
    flow = compile_flow(
        {
            "name": "slow",
            "nodes": [
                {"id": "r", "type": "rest", "url": f"{server.base}/slow?seconds=10"},
            ],
        }
    )
    task = asyncio.create_task(run_flow(flow, ctx, services=EngineServices(rest=ALLOW_LOOPBACK)))
    assert await asyncio.to_thread(server.slow_started.wait, 5)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < 1
    assert ctx.is_canceled()
    await asyncio.sleep(0)
    assert asyncio.all_tasks() == before


@pytest.mark.parametrize(
    ("target", "host"),
    [("http://127.0.0.2:{port}/echo", "127.0.0.2"), ("http://[::1]:{port}/echo", "::1")],
)
async def test_redirect_to_another_loopback_address_is_refused(
    server: _Server, make_ctx: Any, target: str, host: str
) -> None:
    # only 127.0.0.1 is allowed: a redirect may not reach the rest of the
    # loopback range (targets stay on this machine should the guard fail)
    port = server.base.rsplit(":", 1)[1]
    redirect = f"{server.base}/redirect?to={target.format(port=port)}"
    policy = RestPolicy(allow=("127.0.0.1",))
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(make_ctx, {"url": redirect}, policy=policy)
    assert info.value.error_type == "ForbiddenTarget"
    assert host in info.value.message  # refused at the redirect, not at the first URL


async def test_a_name_that_resolves_to_loopback_is_refused(make_ctx: Any) -> None:
    # "localhost" is a DNS name, not an address literal: the guard judges
    # what it resolves to, before any connection
    with pytest.raises(FlowExecutionError) as info:
        await run_rest(make_ctx, {"url": '"http://localhost:9/x"'}, policy=RestPolicy())
    assert info.value.error_type == "ForbiddenTarget"
