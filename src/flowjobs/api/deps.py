"""Dependencies shared by the routes: the manager, the caller's key, the body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flowjobs.api.bodyparse import json_too_deep
from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import ApiKey, KeyKind
from flowjobs.errors import (
    InvalidJsonError,
    PayloadTooLargeError,
    RateLimitedError,
    UnauthorizedError,
    WrongKeyKindError,
)
from flowjobs.jsoncheck import require_storable
from flowjobs.manager import JobManager
from flowjobs.metrics import Metrics
from flowjobs.ratelimit import KeyRateLimiter
from flowjobs.rules import RuleService
from flowjobs.solver import SolverService
from flowjobs.usage import UsageService
from flowjobs.webhooks import WebhookService

# The dependencies below are ``async def`` though they never wait: FastAPI
# runs a plain ``def`` dependency in a thread pool, a thread hop per request.


@dataclass
class AppState:
    settings: Settings
    manager: JobManager
    catalog: Catalog
    usage: UsageService
    rules: RuleService
    webhooks: WebhookService
    metrics: Metrics
    readiness: Callable[[], Awaitable[list[str]]]  # why not ready; empty when ready
    start_limiter: KeyRateLimiter | None = None  # FLOWJOBS_START_RATE_PER_KEY; None: off
    solver: SolverService | None = None  # the Solver API's rules (built by the lifespan)

    def take_start_token(self, key: ApiKey) -> None:
        """One start of this key against its rate (429 once it is spent); the
        dashboard's starts and reruns take from the same bucket as the API's."""
        take_start_token(self, key)


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.flowjobs
    return state


async def get_manager(state: Annotated[AppState, Depends(get_state)]) -> JobManager:
    return state.manager


ManagerDep = Annotated[JobManager, Depends(get_manager)]


async def get_catalog(state: Annotated[AppState, Depends(get_state)]) -> Catalog:
    return state.catalog


CatalogDep = Annotated[Catalog, Depends(get_catalog)]


async def get_usage(state: Annotated[AppState, Depends(get_state)]) -> UsageService:
    return state.usage


UsageDep = Annotated[UsageService, Depends(get_usage)]


async def get_rules(state: Annotated[AppState, Depends(get_state)]) -> RuleService:
    return state.rules


RulesDep = Annotated[RuleService, Depends(get_rules)]


async def get_webhooks(state: Annotated[AppState, Depends(get_state)]) -> WebhookService:
    return state.webhooks


WebhooksDep = Annotated[WebhookService, Depends(get_webhooks)]
_bearer = HTTPBearer(auto_error=False, description="a Solver API key of the space")


async def key_of_kind(catalog: Catalog, secret: str | None, kind: KeyKind, api: str) -> ApiKey:
    """The key with this bearer secret, which must be of ``kind`` (401, 403)."""
    if not secret:
        raise UnauthorizedError("Unauthorized. Invalid or missing API key.")
    key = await catalog.authenticate(secret)
    if key.kind is not kind:
        raise WrongKeyKindError(f"The {api} needs a {kind.value.title()} API key")
    return key


def take_start_token(state: AppState, key: ApiKey) -> None:
    """One start of this key against its rate (429 once it is spent)."""
    if state.start_limiter is not None:
        wait = state.start_limiter.take(key.id)
        if wait > 0:
            raise RateLimitedError(wait)


async def bearer_secret(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The request's Bearer secret, if it has one (its key is checked by the caller)."""
    return credentials.credentials if credentials is not None else None


BearerSecretDep = Annotated[str | None, Depends(bearer_secret)]


def _key_of_kind(kind: KeyKind, api: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that authenticates the bearer key and requires its kind."""

    async def dependency(
        catalog: CatalogDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        secret = credentials.credentials if credentials is not None else None
        return await key_of_kind(catalog, secret, kind, api)

    return dependency


SOLVER_API = "Jobs API"
SolverKeyDep = Annotated[ApiKey, Depends(_key_of_kind(KeyKind.SOLVER, SOLVER_API))]
ManagementKeyDep = Annotated[ApiKey, Depends(_key_of_kind(KeyKind.MANAGEMENT, "Management API"))]


async def start_key(key: SolverKeyDep, state: Annotated[AppState, Depends(get_state)]) -> ApiKey:
    """The Solver key of a request that starts a job, within its rate (429)."""
    take_start_token(state, key)
    return key


StartKeyDep = Annotated[ApiKey, Depends(start_key)]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    return await read_limited(request.headers.get("content-length", ""), request.stream(), limit)


async def read_limited(declared: str, chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """A body from its chunks, refused with 413 as soon as it passes ``limit``
    bytes (at once if its declared Content-Length does)."""
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The request body is larger than {limit} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The request body is larger than {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes, *, max_depth: int) -> Any:
    """Strict JSON: no NaN or Infinity, text that can be stored and sent back
    as UTF-8 on either database (no lone surrogates, no NUL: jsoncheck.py),
    nested at most ``max_depth`` levels."""
    if not body.strip():
        return {}  # a start without a body runs with an empty input object
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except RecursionError as exc:  # deeper than Python's own stack allows
        raise json_too_deep(max_depth) from exc
    except ValueError as exc:
        raise InvalidJsonError(f"The request body is not valid JSON: {str(exc)[:200]}") from exc
    # One walk: depth, and text no database holds. (JSON values take a byte
    # each at least, so unlike YAML a JSON body cannot expand past its size.)
    # A start's input is checked once more where it is written (by the
    # manager, for the dashboard's starts too): a few microseconds for a
    # small input, the cost of this walk again for a large one.
    require_storable(value, max_depth=max_depth)
    return value


async def read_json(request: Request, settings: Settings) -> Any:
    """The body (size-limited) parsed as bounded JSON."""
    body = await read_body(request, settings.max_body_bytes)
    return parse_json(body, max_depth=settings.max_json_depth)


def unwrap_input(body: Any) -> Any:
    """``{"data": x}`` (optionally with ``options``) is the wrapped form of ``x``."""
    if isinstance(body, dict) and "data" in body and set(body) <= {"data", "options"}:
        return body["data"]
    return body
