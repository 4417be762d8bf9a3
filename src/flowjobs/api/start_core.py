"""One job start, as both start paths run it: the FastAPI route
(api/routes/jobs.py) and the fast route of ordinary starts
(api/fast_start.py).

A start is judged in one order, kept here once: the key and its kind (401,
403), the key's start rate (429), the body's size (413) and JSON (400), then
the start itself (the manager's checks: rule, version, quota, input). The
FastAPI route runs the first part as a dependency (:func:`admit_start`), so
that FastAPI validates its query and headers after it, as it always did.
Both raise a FlowjobsError for a problem: the app's handler answers it on
the FastAPI route, ``FastRoutes`` (api/fast_routes.py) with the same
function on the fast route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from flowjobs.api.deps import (
    SOLVER_API,
    AppState,
    key_of_kind,
    parse_json,
    read_limited,
    take_start_token,
    unwrap_input,
)
from flowjobs.domain import ApiKey, JobRecord, KeyKind


@dataclass(frozen=True, slots=True)
class AdmittedStart:
    """A start whose key, rate and body passed: who starts, with what input."""

    key: ApiKey
    input: Any


@dataclass(frozen=True, slots=True)
class StartOptions:
    """What a start takes from its path, query and headers."""

    identifier: str
    version: str | None = None
    correlation_id: str | None = None
    priority: int | None = None
    idempotency_key: str | None = None


async def admit_start(
    state: AppState, secret: str | None, declared_length: str, chunks: AsyncIterator[bytes]
) -> AdmittedStart:
    """The checks before the start, in their order: key and kind, rate, body."""
    key = await key_of_kind(state.catalog, secret, KeyKind.SOLVER, SOLVER_API)
    take_start_token(state, key)
    settings = state.settings
    raw = await read_limited(declared_length, chunks, settings.max_body_bytes)
    return AdmittedStart(key, unwrap_input(parse_json(raw, max_depth=settings.max_json_depth)))


async def start_job(state: AppState, admitted: AdmittedStart, options: StartOptions) -> JobRecord:
    """The start of an admitted request (the manager's checks, then the insert)."""
    return await state.manager.start(
        admitted.key,
        options.identifier,
        options.version,
        admitted.input,
        correlation_id=options.correlation_id,
        priority=options.priority,
        idempotency_key=options.idempotency_key,
    )
