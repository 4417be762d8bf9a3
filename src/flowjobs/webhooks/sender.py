"""One delivery attempt over HTTP: the URL checked by the SSRF guard of
``net`` (the one the ``rest`` node uses), the request sent to the checked
address, no redirects followed, the whole attempt bounded by the timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import httpx

from flowjobs.domain import AttemptResult
from flowjobs.errors import FlowExecutionError
from flowjobs.net.http_client import new_client, pinned_request
from flowjobs.net.ssrf import AllowList, pin_url

EXCERPT_CHARS = 500  # of a failed attempt's response body or error


def excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"


def client(timeout: float) -> httpx.AsyncClient:
    """No proxies from the environment, no redirects, no pooled connections
    (the same client the ``rest`` node uses)."""
    return new_client(timeout)


async def post(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    allow: AllowList,
    timeout: float,
) -> AttemptResult:
    """POST ``body``; any answer, refusal or failure becomes an AttemptResult."""
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout):
            status, error = await _exchange(http, url, body, headers, allow)
    except TimeoutError:
        error = f"timed out after {timeout:g} s"
    except FlowExecutionError as exc:  # refused by the SSRF guard, or DNS failed
        error = excerpt(exc.message)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = excerpt(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    latency_ms = round((time.monotonic() - started) * 1000, 1)
    return AttemptResult(status_code=status, latency_ms=latency_ms, error=error)


async def _exchange(
    http: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    allow: AllowList,
) -> tuple[int, str | None]:
    pinned = await pin_url(httpx.URL(url), allow)
    request = pinned_request(http, "POST", pinned, headers, body)
    response = await http.send(request, stream=True)
    try:
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, await _failure(response)
    finally:
        await response.aclose()


async def _failure(response: httpx.Response) -> str:
    """``HTTP 500: <start of the body>``, reading no more than needed."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_CHARS * 4:
            break
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return excerpt(f"HTTP {response.status_code}: {text}".rstrip(": "))
