"""``rest``: one HTTP request, SSRF-guarded, with retries and a status check."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.errors import FlowExecutionError
from flowjobs.net.http_client import HttpRequest, HttpResponse, new_client, public_url, send
from flowjobs.net.ssrf import ResolutionError

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_RETRY_DELAY_SECONDS = 60.0  # cap on Retry-After and on one backoff pause
BODY_EXCERPT_CHARS = 500
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)
_LITERAL_URL = re.compile(r"^https?://", re.IGNORECASE)

ExpressionMap = Expression | dict[str, Expression]


class RetrySettings(BaseModel):
    """``retry: {attempts, backoff}``: attempts in all (1 = no retry) and the
    first pause in seconds (doubled after each attempt, with jitter)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    attempts: int = Field(default=1, ge=1, le=10)
    backoff: float = Field(default=0.5, ge=0, le=MAX_RETRY_DELAY_SECONDS)


class _Retryable(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, error: FlowExecutionError, delay: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.delay = delay


def parse_expect_status(raw: Any) -> frozenset[int] | None:
    """An int, a string like ``"2xx"`` or ``"204"``, or a list of those; None if invalid."""
    items = raw if isinstance(raw, list) else [raw]
    codes: set[int] = set()
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and 100 <= item <= 599:
            codes.add(item)
        elif isinstance(item, str) and _STATUS_CLASS.match(item.strip()):
            first = int(item.strip()[0]) * 100
            codes.update(range(first, first + 100))
        elif isinstance(item, str) and item.strip().isdigit() and 100 <= int(item) <= 599:
            codes.add(int(item))
        else:
            return None
    return frozenset(codes) if codes else None


def _header_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TypeError(f"a {type(value).__name__} cannot be a header or query value")


class RestNode(Node):
    """An HTTP request. ``url`` is a JSONata expression, or a literal starting
    with ``http://``/``https://``; ``method`` is a method name or an expression;
    ``headers``/``query`` map names to expressions or are one expression giving
    an object; ``body`` is an expression (a string is sent as text, anything
    else as JSON). The result is ``{status, headers, body}``."""

    node_type: ClassVar[str] = "rest"

    method: str = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, Any] | str | None = None
    query: dict[str, Any] | str | None = None
    body: Any = None
    request_timeout: float | None = Field(default=None, alias="requestTimeout", gt=0)
    retry: RetrySettings = Field(default_factory=RetrySettings)
    expect_status: Any = Field(default="2xx", alias="expectStatus")

    _method: Expression | None = PrivateAttr(default=None)
    _url: Expression | None = PrivateAttr(default=None)
    _headers: ExpressionMap | None = PrivateAttr(default=None)
    _query: ExpressionMap | None = PrivateAttr(default=None)
    _body: Expression | None = PrivateAttr(default=None)
    _expected: frozenset[int] = PrivateAttr(default=frozenset(range(200, 300)))

    # -- compile ----------------------------------------------------------------

    def compile(self, ctx: CompileContext) -> None:
        if self.method.upper() not in METHODS:
            self._method = ctx.expression(self, "method", self.method)
        if not _LITERAL_URL.match(self.url):
            self._url = ctx.expression(self, "url", self.url)
        self._headers = _compile_map(self, ctx, "headers", self.headers)
        self._query = _compile_map(self, ctx, "query", self.query)
        if self.body is not None:
            self._body = ctx.expression(self, "body", self.body)
        expected = parse_expect_status(self.expect_status)
        if expected is None:
            ctx.problem(
                self,
                'expectStatus: must be a status code, a class like "2xx", or a list of them, '
                f"got {self.expect_status!r}",
            )
        else:
            self._expected = expected

    # -- run --------------------------------------------------------------------

    async def run(self, state: RunState) -> dict[str, Any]:
        request = self._request(state)
        timeout = self.request_timeout or state.services.rest.default_timeout
        async with new_client(timeout) as client:
            response = await self._with_retries(state, client, request, timeout)
        return {
            "status": response.status,
            "headers": response.headers,
            "body": _parse_body(response),
        }

    def _request(self, state: RunState) -> HttpRequest:
        method = self._evaluate_method(state)
        url = self._evaluate_url(state)
        headers = self._evaluate_pairs(state, "headers", self._headers)
        query = self._evaluate_pairs(state, "query", self._query)
        content: bytes | None = None
        if self._body is not None:
            content = self._encode_body(state.evaluate(self, "body", self._body), headers)
        if query:
            url = url.copy_merge_params(tuple(query))
        return HttpRequest(method=method, url=url, headers=dict(headers), content=content)

    def _fail(self, message: str, error_type: str = "RestError") -> FlowExecutionError:
        return FlowExecutionError(
            f'node "{self.id}": {message}', node_id=self.id, error_type=error_type
        )

    def _evaluate_method(self, state: RunState) -> str:
        if self._method is None:
            return self.method.upper()
        value = state.evaluate(self, "method", self._method)
        if not isinstance(value, str) or not _TOKEN.match(value):
            raise self._fail(f"method must be an HTTP method name, got {value!r}")
        return value.upper()

    def _evaluate_url(self, state: RunState) -> httpx.URL:
        value = self.url if self._url is None else state.evaluate(self, "url", self._url)
        if not isinstance(value, str):
            raise self._fail(f"url must be a string, got {value!r}", "InvalidUrl")
        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise self._fail(f"invalid url {value!r}: {exc}", "InvalidUrl") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise self._fail(
                f"url must be an absolute http or https URL, got {value!r}", "InvalidUrl"
            )
        return url

    def _evaluate_pairs(
        self, state: RunState, field_name: str, compiled: ExpressionMap | None
    ) -> list[tuple[str, str]]:
        values = _evaluate_map(state, self, field_name, compiled)
        pairs: list[tuple[str, str]] = []
        try:
            for name, value in values.items():
                items = value if isinstance(value, list) and field_name == "query" else [value]
                for item in items:
                    text = _header_text(item)
                    if text is not None:
                        pairs.append((name, text))
        except TypeError as exc:
            raise self._fail(f"{field_name}: {exc}") from exc
        return pairs

    def _encode_body(self, value: Any, headers: list[tuple[str, str]]) -> bytes | None:
        if value is None:
            return None
        has_type = any(name.lower() == "content-type" for name, _ in headers)
        if isinstance(value, str):
            content_type, content = "text/plain; charset=utf-8", value.encode()
        else:
            content_type = "application/json"
            content = json.dumps(value, ensure_ascii=False).encode()
        if not has_type:
            headers.append(("Content-Type", content_type))
        return content

    # -- attempts ---------------------------------------------------------------

    async def _with_retries(
        self,
        state: RunState,
        client: httpx.AsyncClient,
        request: HttpRequest,
        timeout: float,
    ) -> HttpResponse:
        attempts = self.retry.attempts
        for attempt in range(1, attempts + 1):
            state.ctx.raise_if_canceled()
            try:
                return await self._attempt(state, client, request, timeout)
            except _Retryable as retry:
                if attempt == attempts:
                    raise retry.error from retry.__cause__
                delay = retry.delay if retry.delay is not None else self._backoff(attempt)
                state.ctx.log(
                    f'node "{self.id}": attempt {attempt} of {attempts} failed '
                    f"({retry.error.message}); retrying in {delay:.2f}s",
                    nodeId=self.id,
                    attempt=attempt,
                )
                await state.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int) -> float:
        delay = self.retry.backoff * 2 ** (attempt - 1)
        jittered: float = delay * random.uniform(0.5, 1.0)
        return min(MAX_RETRY_DELAY_SECONDS, jittered)

    async def _attempt(
        self,
        state: RunState,
        client: httpx.AsyncClient,
        request: HttpRequest,
        timeout: float,
    ) -> HttpResponse:
        where = f"{request.method} {public_url(request.url)}"
        try:
            async with asyncio.timeout(timeout):
                response = await send(client, request, state.services.rest, node_id=self.id)
        except TimeoutError as exc:
            error = self._fail(f"{where} timed out after {timeout:g}s", "HttpTimeout")
            raise _Retryable(error) from exc
        except httpx.TimeoutException as exc:
            error = self._fail(f"{where} timed out: {_describe(exc)}", "HttpTimeout")
            raise _Retryable(error) from exc
        except httpx.TransportError as exc:
            error = self._fail(f"{where} failed: {_describe(exc)}", "HttpConnectionError")
            raise _Retryable(error) from exc
        except ResolutionError as exc:
            raise _Retryable(exc) from exc
        except httpx.HTTPError as exc:
            raise self._fail(f"{where} failed: {_describe(exc)}", "HttpError") from exc
        return self._checked(response, where)

    def _checked(self, response: HttpResponse, where: str) -> HttpResponse:
        status = response.status
        if status in self._expected:
            return response
        excerpt = _text(response.content, response.headers)[:BODY_EXCERPT_CHARS]
        error = self._fail(
            f"{where} answered HTTP {status}, expected {_describe_expected(self.expect_status)}: "
            f"{excerpt}",
            "HttpStatusError",
        )
        if status >= 500 or status == 429:
            raise _Retryable(error, _retry_after(response.headers))
        raise error


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


def _describe_expected(raw: Any) -> str:
    return json.dumps(raw) if not isinstance(raw, str) else raw


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date), capped; None if absent."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (moment - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_DELAY_SECONDS, max(0.0, seconds))


def _compile_map(
    node: Node, ctx: CompileContext, field_name: str, raw: Any
) -> ExpressionMap | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return ctx.expression(node, field_name, raw)
    compiled: dict[str, Expression] = {}
    for name, source in raw.items():
        if not name:
            ctx.problem(node, f"{field_name}: names must not be empty")
            continue
        expression = ctx.expression(node, f"{field_name}.{name}", source)
        if expression is not None:
            compiled[name] = expression
    return compiled


def _evaluate_map(
    state: RunState, node: Node, field_name: str, compiled: ExpressionMap | None
) -> dict[str, Any]:
    if compiled is None:
        return {}
    if isinstance(compiled, Expression):
        value = state.evaluate(node, field_name, compiled)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise FlowExecutionError(
                f'node "{node.id}": {field_name} must give an object, got {value!r}',
                node_id=node.id,
                error_type="RestError",
            )
        return value
    return {
        name: state.evaluate(node, f"{field_name}.{name}", expression)
        for name, expression in compiled.items()
    }


def _charset(headers: Mapping[str, str]) -> str:
    match = re.search(r"charset=([\w.:-]+)", headers.get("content-type", ""), re.IGNORECASE)
    return match.group(1) if match else "utf-8"


def _text(content: bytes, headers: Mapping[str, str]) -> str:
    try:
        return content.decode(_charset(headers), errors="replace")
    except LookupError:  # unknown charset
        return content.decode("utf-8", errors="replace")


def _is_json(headers: Mapping[str, str]) -> bool:
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _parse_body(response: HttpResponse) -> Any:
    """JSON when the content type says so (text if it does not parse), else text;
    an empty body is null."""
    if not response.content:
        return None
    text = _text(response.content, response.headers)
    if _is_json(response.headers):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
