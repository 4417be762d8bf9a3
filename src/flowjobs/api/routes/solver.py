"""The Rule Solver API (Solver key), at the paths the DecisionRules SDKs
call: ``POST /rule/solve/{ruleIdOrAlias}[/{version}]`` solves a decision
table or rule flow for one input (``{"data": {...}}``) or a bulk of them
(``{"data": [...]}``: one result per input, in order). docs/rules.md."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from flowjobs.api.deps import (
    AppState,
    ManagementKeyDep,
    SolverKeyDep,
    get_state,
    parse_json,
    read_body,
)
from flowjobs.api.problems import problem_response, problem_responses
from flowjobs.domain import ApiKey
from flowjobs.errors import BadRequestError, FlowjobsError
from flowjobs.solver import SolveOptions, SolverService, version_number
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


def _solver(state: AppState) -> SolverService:
    assert state.solver is not None  # built by the app's lifespan
    return state.solver


async def _solve(
    request: Request,
    state: AppState,
    key: ApiKey,
    identifier: str,
    version: str | None,
    strategy: str | None,
    audit: AuditRequest,
) -> Any:
    settings = state.settings
    body = parse_json(await read_body(request, settings.max_body_bytes), max_depth=100)
    if not isinstance(body, dict) or "data" not in body:
        raise InvalidSolveBodyError()
    options = SolveOptions.from_request(body.get("options"))
    solver = _solver(state)
    number = version_number(version)
    result = await solver.solve(
        key.space_id, identifier, number, body["data"], strategy=strategy, options=options
    )
    if audit.wanted:
        audit_id = await solver.record_audit(key, identifier, number, body, result, audit)
        request.state.audit_id = audit_id
    return result


async def _answer(
    request: Request,
    state: AppState,
    key: ApiKey,
    identifier: str,
    version: str | None,
    headers: tuple[str | None, str | None, str | None, str | None],
) -> Response:
    """The result with the correlation id (given or new) in its header; an
    error as a problem, with the header too."""
    strategy, correlation, audit, audit_ttl = headers
    correlation_id = (correlation or str(uuid.uuid4()))[:MAX_CORRELATION]
    out = {CORRELATION: correlation_id}
    try:
        wanted = AuditRequest.from_headers(audit, audit_ttl_days(audit_ttl), correlation_id)
        result = await _solve(request, state, key, identifier, version, strategy, wanted)
    except FlowjobsError as exc:
        problems = getattr(exc, "problems", None)
        return problem_response(exc.status, exc.code, exc.message, problems=problems, headers=out)
    audit_id = getattr(request.state, "audit_id", None)
    if audit_id is not None:
        out["X-Audit-Id"] = audit_id
    return JSONResponse(result, headers=out)


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
    headers = (strategy, correlation, audit, audit_ttl)
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
    headers = (strategy, correlation, audit, audit_ttl)
    return await _answer(request, state, key, identifier, version, headers)


@router.get(
    "/api/audit/{audit_id}",
    summary="Read the audit of a solve made with X-Audit: true (Management key)",
    description="The request and result of the solve, until its X-Audit-Ttl days pass.",
    responses=problem_responses(401, 403, 404),
)
async def read_audit(
    audit_id: Annotated[str, Path(description="the X-Audit-Id header of the solve")],
    state: StateDep,
    key: ManagementKeyDep,
) -> dict[str, Any]:
    audit = await _solver(state).audit(key.space_id, audit_id)
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
