"""One HTTP exchange through the SSRF guard: the client (no proxies, no
pooled connections), a request built for the checked address, and, for the
``rest`` node, redirects followed by hand (each hop checked again) and the
response body read with a size limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

import httpx

from flowjobs.errors import FlowExecutionError
from flowjobs.net.ssrf import AllowList, PinnedTarget, pin_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Dropped from a redirected request that goes to another origin.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_BODY_HEADERS = frozenset({"content-type", "content-length", "content-encoding"})


class HttpPolicy(Protocol):
    """What :func:`send` obeys (the engine's ``RestPolicy`` is one): the allow
    list's entries, the redirects followed, the response bytes read."""

    @property
    def allow(self) -> tuple[str, ...]: ...

    @property
    def max_redirects(self) -> int: ...

    @property
    def max_response_bytes(self) -> int: ...


@dataclass(frozen=True)
class HttpRequest:
    method: str
    url: httpx.URL
    headers: dict[str, str]
    content: bytes | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    content: bytes
    url: httpx.URL  # the last URL requested (after redirects), as the flow gave it


def new_client(timeout: float) -> httpx.AsyncClient:
    """A client for one node execution or one dispatcher: no proxies from the environment (they
    would bypass the address check), no redirects, no connection reuse (a
    pooled TLS connection must not serve another host name on the same IP)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_keepalive_connections=0),
    )


def public_url(url: httpx.URL) -> str:
    """``url`` without credentials, query or fragment, for messages."""
    return str(url.copy_with(username=None, password=None, query=None, fragment=None))


async def send(
    client: httpx.AsyncClient,
    request: HttpRequest,
    policy: HttpPolicy,
    *,
    node_id: str | None = None,
) -> HttpResponse:
    """Send ``request``, following up to ``policy.max_redirects`` redirects."""
    allow = AllowList.from_entries(policy.allow)
    current = request
    for _ in range(policy.max_redirects + 1):
        pinned = await pin_url(current.url, allow, node_id=node_id)
        built = pinned_request(client, current.method, pinned, current.headers, current.content)
        response = await client.send(built, stream=True)
        try:
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or not location:
                return await _read(response, current.url, policy.max_response_bytes, node_id)
        finally:
            await response.aclose()
        current = _redirected(current, response.status_code, location, node_id)
    raise FlowExecutionError(
        f"more than {policy.max_redirects} redirects (RestPolicy.max_redirects) "
        f"starting at {public_url(request.url)}",
        node_id=node_id,
        error_type="TooManyRedirects",
    )


def pinned_request(
    client: httpx.AsyncClient,
    method: str,
    pinned: PinnedTarget,
    headers: Mapping[str, str],
    content: bytes | None,
) -> httpx.Request:
    """A request to the checked address, with the name the URL gave as
    ``Host`` (any ``Host`` among ``headers`` is replaced)."""
    sent = {name: value for name, value in headers.items() if name.lower() != "host"}
    sent["Host"] = pinned.host_header
    return client.build_request(
        method, pinned.url, headers=sent, content=content, extensions=pinned.extensions
    )


def _redirected(
    request: HttpRequest, status: int, location: str, node_id: str | None
) -> HttpRequest:
    try:
        target = request.url.join(location)
    except httpx.InvalidURL as exc:
        raise FlowExecutionError(
            f"invalid redirect location {location!r}: {exc}",
            node_id=node_id,
            error_type="InvalidUrl",
        ) from exc
    headers = dict(request.headers)
    if _origin(target) != _origin(request.url):
        headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIAL_HEADERS}
    method_changes = (status == 303 and request.method != "HEAD") or (
        status in (301, 302) and request.method == "POST"
    )
    if not method_changes:
        return replace(request, url=target, headers=headers)
    headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
    return HttpRequest(method="GET", url=target, headers=headers, content=None)


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return (url.scheme, url.raw_host, url.port)


async def _read(
    response: httpx.Response, url: httpx.URL, max_bytes: int, node_id: str | None
) -> HttpResponse:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(url, max_bytes, node_id)
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(url, max_bytes, node_id)
        chunks.append(chunk)
    return HttpResponse(
        status=response.status_code,
        headers=dict(response.headers.items()),
        content=b"".join(chunks),
        url=url,
    )


def _too_large(url: httpx.URL, max_bytes: int, node_id: str | None) -> FlowExecutionError:
    return FlowExecutionError(
        f"the response from {public_url(url)} is larger than {max_bytes} bytes "
        "(RestPolicy.max_response_bytes)",
        node_id=node_id,
        error_type="ResponseTooLarge",
    )
