"""Dependencies shared by the routes: the manager, the caller's key, the body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flowjobs.config import Settings
from flowjobs.domain import ApiKey, KeyKind
from flowjobs.errors import (
    InvalidJsonError,
    PayloadTooLargeError,
    UnauthorizedError,
    WrongKeyKindError,
)
from flowjobs.manager import JobManager


@dataclass
class AppState:
    settings: Settings
    manager: JobManager


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.flowjobs
    return state


def get_manager(state: Annotated[AppState, Depends(get_state)]) -> JobManager:
    return state.manager


ManagerDep = Annotated[JobManager, Depends(get_manager)]
_bearer = HTTPBearer(auto_error=False, description="a Solver API key of the space")


async def solver_key(
    manager: ManagerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    if credentials is None or not credentials.credentials:
        raise UnauthorizedError("Unauthorized. Invalid or missing API key.")
    key = await manager.authenticate(credentials.credentials)
    if key.kind is not KeyKind.SOLVER:
        raise WrongKeyKindError("The Jobs API needs a Solver API key")
    return key


SolverKeyDep = Annotated[ApiKey, Depends(solver_key)]


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


def parse_json(body: bytes) -> Any:
    if not body.strip():
        return {}  # a start without a body runs with an empty input object
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidJsonError(f"The request body is not valid JSON: {str(exc)[:200]}") from exc


def unwrap_input(body: Any) -> Any:
    """``{"data": x}`` (optionally with ``options``) is the wrapped form of ``x``."""
    if isinstance(body, dict) and "data" in body and set(body) <= {"data", "options"}:
        return body["data"]
    return body


async def job_input(request: Request, state: Annotated[AppState, Depends(get_state)]) -> Any:
    return unwrap_input(parse_json(await read_body(request, state.settings.max_body_bytes)))


JobInputDep = Annotated[Any, Depends(job_input)]
