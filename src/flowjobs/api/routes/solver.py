"""The Rule Solver API (Solver key), at the paths the DecisionRules SDKs
call: ``POST /rule/solve/{ruleIdOrAlias}[/{version}]`` solves a decision
table or rule flow for one input (``{"data": {...}}``) or a bulk of them
(``{"data": [...]}``: one result per input, in order). docs/rules.md."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import Response

from flowjobs.api.deps import (
    AppState,
    ManagementKeyDep,
    SolverKeyDep,
    get_state,
    parse_json,
    read_limited,
)
from flowjobs.api.problems import problem_response, problem_responses
from flowjobs.domain import ApiKey
from flowjobs.errors import BadRequestError, FlowjobsError
from flowjobs.solver import SolveOptions, version_number
from flowjobs.solver.audit import AuditRequest, audit_ttl_days

router = APIRouter(tags=["solver"])

CORRELATION = "X-Correlation-Id"
MAX_CORRELATION = 200  # characters of a given correlation id that are kept
_BODY = {
    "requestBody": {
        "required": True,
        "description": '`{"data": {...}}` (one input) or `{"data": [{...}, ...]}` (bulk), '
        'with optional `"options": {"includedConditionCols": [...], '
        '"excludedConditionCols": [...]}`',
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
Identifier = Annotated[str, Path(description="the rule's id (baseId) or alias")]
Version = Annotated[str, Path(description="a version number; empty or 'latest': the latest")]
Strategy = Annotated[
    str | None,
    Header(alias="X-Strategy", description="STANDARD (default), FIRST_MATCH, ARRAY, EVALUATE_ALL"),
]
Correlation = Annotated[str | None, Header(alias=CORRELATION)]
Audit = Annotated[str | None, Header(alias="X-Audit", description='"true": record the solve')]
AuditTtl = Annotated[
    str | None, Header(alias="X-Audit-Ttl", description="days the audit is kept (default 14)")
]
StateDep = Annotated[AppState, Depends(get_state)]


class InvalidSolveBodyError(BadRequestError):
    """The body must be an object with the input under "data"."""

    code = "INVALID_SOLVE_BODY"


@dataclass(frozen=True, slots=True)
class SolveHeaders:
    """The Solver API's request headers (``X-Debug`` is accepted and ignored)."""

    strategy: str | None = None
    correlation_id: str | None = None
    audit: str | None = None
    audit_ttl: str | None = None


def correlation_of(headers: SolveHeaders) -> str:
    """The given correlation id (cut to its length), or a new one."""
    return (headers.correlation_id or str(uuid.uuid4()))[:MAX_CORRELATION]


def encode(result: Any) -> bytes:
    """JSON as Starlette's JSONResponse writes it."""
    return json.dumps(
        result, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


async def solve_request(
    state: AppState,
    key: ApiKey,
    identifier: str,
    version: str | None,
    headers: SolveHeaders,
    correlation_id: str,
    raw: bytes,
) -> tuple[bytes, dict[str, str]]:
    """One Solver API request after its key: the answer's body and headers
    (besides the correlation id). Raises FlowjobsError for a problem."""
    audit = AuditRequest.from_headers(
        headers.audit, audit_ttl_days(headers.audit_ttl), correlation_id
    )
    body = parse_json(raw, max_depth=state.settings.max_json_depth)
    if not isinstance(body, dict) or "data" not in body:
        raise InvalidSolveBodyError()
    options = SolveOptions.from_request(body.get("options"))
    assert state.solver is not None  # built by the app's lifespan
    number = version_number(version)
    result = await state.solver.solve(
        key.space_id, identifier, number, body["data"], strategy=headers.strategy, options=options
    )
    extra = {}
    if audit.wanted:
        extra["X-Audit-Id"] = await state.solver.record_audit(
            key, identifier, number, body, result, audit
        )
    return encode(result), extra


async def answer_solve(
    state: AppState,
    key: ApiKey,
    identifier: str,
    version: str | None,
    headers: SolveHeaders,
    declared_length: str,
    chunks: AsyncIterator[bytes],
) -> Response:
    """A Solver API request after its key, as the FastAPI route and the fast
    route (api/fast_solve.py) answer it: the result with the correlation id
    (given or new) in its header; an error as a problem, with the header too."""
    correlation_id = correlation_of(headers)
    out = {CORRELATION: correlation_id}
    try:
        raw = await read_limited(declared_length, chunks, state.settings.max_body_bytes)
        body, extra = await solve_request(
            state, key, identifier, version, headers, correlation_id, raw
        )
    except FlowjobsError as exc:
        problems = getattr(exc, "problems", None)
        return problem_response(exc.status, exc.code, exc.message, problems=problems, headers=out)
    return Response(body, media_type="application/json", headers=out | extra)


async def _answer(
    request: Request,
    state: AppState,
    key: ApiKey,
    identifier: str,
    version: str | None,
    headers: SolveHeaders,
) -> Response:
    declared = request.headers.get("content-length", "")
    return await answer_solve(state, key, identifier, version, headers, declared, request.stream())


_ERRORS = problem_responses(400, 401, 403, 404, 413)


@router.post(
    "/rule/solve/{identifier}",
    summary="Solve the latest published version of a decision table or rule flow",
    responses=_ERRORS,
    openapi_extra=_BODY,
)
@router.post("/rule/solve/{identifier}/", include_in_schema=False)  # the SDK's path
async def solve_latest(
    request: Request,
    state: StateDep,
    key: SolverKeyDep,
    identifier: Identifier,
    strategy: Strategy = None,
    correlation: Correlation = None,
    audit: Audit = None,
    audit_ttl: AuditTtl = None,
) -> Response:
    headers = SolveHeaders(strategy, correlation, audit, audit_ttl)
    return await _answer(request, state, key, identifier, None, headers)


@router.post(
    "/rule/solve/{identifier}/{version}",
    summary="Solve one published version of a decision table or rule flow",
    responses=_ERRORS,
    openapi_extra=_BODY,
)
async def solve_version(
    request: Request,
    state: StateDep,
    key: SolverKeyDep,
    identifier: Identifier,
    version: Version,
    strategy: Strategy = None,
    correlation: Correlation = None,
    audit: Audit = None,
    audit_ttl: AuditTtl = None,
) -> Response:
    headers = SolveHeaders(strategy, correlation, audit, audit_ttl)
    return await _answer(request, state, key, identifier, version, headers)


@router.get(
    "/api/audit/{auditId}",
    summary="Read the audit of a solve made with X-Audit: true (Management key)",
    description="The request and result of the solve, until its X-Audit-Ttl days pass.",
    responses=problem_responses(401, 403, 404),
)
async def read_audit(
    auditId: Annotated[str, Path(description="the X-Audit-Id header of the solve")],
    state: StateDep,
    key: ManagementKeyDep,
) -> dict[str, Any]:
    assert state.solver is not None  # built by the app's lifespan
    audit = await state.solver.audit(key.space_id, auditId)
    return {
        "auditId": audit.id,
        "ruleId": audit.base_id,
        "version": audit.version,
        "correlationId": audit.correlation_id,
        "request": audit.request,
        "response": audit.response,
        "createdAt": audit.created_at.isoformat(),
        "expiresAt": audit.expires_at.isoformat(),
    }
