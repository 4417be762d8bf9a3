"""Dependencies shared by the routes: the manager, the caller's key, the body."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flowjobs.catalog import Catalog
from flowjobs.config import Settings
from flowjobs.domain import ApiKey, KeyKind
from flowjobs.errors import (
    InvalidJsonError,
    PayloadTooLargeError,
    UnauthorizedError,
    WrongKeyKindError,
)
from flowjobs.manager import JobManager
from flowjobs.metrics import Metrics
from flowjobs.rules import RuleService
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


def _key_of_kind(kind: KeyKind, api: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency that authenticates the bearer key and requires its kind."""

    async def dependency(
        manager: ManagerDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> ApiKey:
        if credentials is None or not credentials.credentials:
            raise UnauthorizedError("Unauthorized. Invalid or missing API key.")
        key = await manager.authenticate(credentials.credentials)
        if key.kind is not kind:
            raise WrongKeyKindError(f"The {api} needs a {kind.value.title()} API key")
        return key

    return dependency


SolverKeyDep = Annotated[ApiKey, Depends(_key_of_kind(KeyKind.SOLVER, "Jobs API"))]
ManagementKeyDep = Annotated[ApiKey, Depends(_key_of_kind(KeyKind.MANAGEMENT, "Management API"))]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"The request body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"The request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Strict JSON: no NaN or Infinity, and text that can be stored and sent back
    as UTF-8 (no lone surrogates)."""
    if not body.strip():
        return {}  # a start without a body runs with an empty input object
    try:
        value = json.loads(body, parse_constant=_reject_constant)
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError, UnicodeEncodeError) as exc:
        raise InvalidJsonError(f"The request body is not valid JSON: {str(exc)[:200]}") from exc
    return value


def unwrap_input(body: Any) -> Any:
    """``{"data": x}`` (optionally with ``options``) is the wrapped form of ``x``."""
    if isinstance(body, dict) and "data" in body and set(body) <= {"data", "options"}:
        return body["data"]
    return body


async def job_input(request: Request, state: Annotated[AppState, Depends(get_state)]) -> Any:
    return unwrap_input(parse_json(await read_body(request, state.settings.max_body_bytes)))


JobInputDep = Annotated[Any, Depends(job_input)]
