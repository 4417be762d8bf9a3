"""The Management API for rules (Management key), at the paths the
DecisionRules SDKs call: create, get, update, publish, new version, delete,
and validation of a flow document. ``GET /api/space/items`` is in
space_items.py."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import JSONResponse

from flowjobs.api.deps import (
    AppState,
    CatalogDep,
    ManagementKeyDep,
    RulesDep,
    get_state,
    read_body,
)
from flowjobs.api.documents import parse_document
from flowjobs.api.problems import problem_responses
from flowjobs.domain import RULE_TYPE_FLOW, RuleStatus, RuleVersion
from flowjobs.schemas import FlowValidation, Rule, RuleBody, dr_rule_document

router = APIRouter(prefix="/api/rule", tags=["rules"])

_DOCUMENT = {
    "requestBody": {
        "required": True,
        "description": "A flow document as JSON (or YAML with a YAML content type).",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
_BODY_SCHEMA = RuleBody.model_json_schema(ref_template="#/components/schemas/{model}")
_BODY_SCHEMA.pop("$defs", None)  # RuleStatus is a component already (from Rule)
_RULE_BODY = {
    "requestBody": {
        "required": True,
        "description": "A rule as the SDKs send it (JSON), or a flow document as YAML "
        "(with a YAML content type).",
        "content": {
            "application/json": {"schema": _BODY_SCHEMA},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
_VERSION_DOC = "a version number, or 'latest' (the highest version, whatever its status)"
Identifier = Annotated[str, Path(description="the rule's baseId (ruleId) or alias")]
Version = Annotated[str, Path(description=_VERSION_DOC)]


async def flow_document(request: Request, state: Annotated[AppState, Depends(get_state)]) -> Any:
    """The body as a flow document: JSON, or YAML with a YAML content type
    (parsed off the event loop within a budget: api/documents.py)."""
    settings = state.settings
    body = await read_body(request, settings.max_body_bytes)
    return await parse_document(body, request.headers.get("content-type", ""), settings)


DocumentDep = Annotated[Any, Depends(flow_document)]


RuleAnswer = Rule | JSONResponse


def _answer(rule: RuleVersion, status_code: int = 200, **headers: str) -> RuleAnswer:
    """A flow as the ``Rule`` model; a decision table or rule flow as the
    whole DecisionRules document (``getRule`` gives back what was created)."""
    if rule.type == RULE_TYPE_FLOW:
        return Rule.from_version(rule)
    return JSONResponse(dr_rule_document(rule), status_code=status_code, headers=headers)


def _created(response: Response, rule: RuleVersion) -> RuleAnswer:
    location = f"/api/rule/{rule.base_id}/{rule.version}"
    response.headers["Location"] = location
    return _answer(rule, 201, Location=location)


@router.post(
    "/validate",
    response_model=FlowValidation,
    summary="Report every problem of a flow document, without storing it",
    responses=problem_responses(400, 401, 403, 413),
    openapi_extra=_DOCUMENT,
)
async def validate(
    key: ManagementKeyDep,  # before the body: a missing key answers 401 unread
    catalog: CatalogDep,
    document: DocumentDep,
) -> FlowValidation:
    if not isinstance(document, dict):
        return FlowValidation(valid=False, problems=["the flow document must be an object"])
    problems = await catalog.problems(key.space_id, document)
    return FlowValidation(valid=not problems, problems=problems)


@router.post(
    "",
    status_code=201,
    summary="Create a rule (an integration flow), version 1",
    description="Pending unless the body says `status: published`. Answers the rule, "
    "with `Location: /api/rule/{baseId}/1`.",
    responses=problem_responses(400, 401, 403, 409, 413),
    openapi_extra=_RULE_BODY,
    response_model=Rule,
    response_model_exclude_none=True,
)
@router.post(  # the path the SDKs call
    "/",
    status_code=201,
    include_in_schema=False,
    response_model=Rule,
    response_model_exclude_none=True,
)
async def create_rule(
    key: ManagementKeyDep, rules: RulesDep, body: DocumentDep, response: Response
) -> RuleAnswer:
    return _created(response, await rules.create(key.space_id, body))


@router.get(
    "/{identifier}",
    summary="Get the highest version of a rule",
    responses=problem_responses(401, 403, 404),
    response_model=Rule,
    response_model_exclude_none=True,
)
async def get_latest(identifier: Identifier, key: ManagementKeyDep, rules: RulesDep) -> RuleAnswer:
    return _answer(await rules.get(key.space_id, identifier, None))


@router.get(
    "/{identifier}/{version}",
    summary="Get one version of a rule",
    responses=problem_responses(400, 401, 403, 404),
    response_model=Rule,
    response_model_exclude_none=True,
)
async def get_version(
    identifier: Identifier, version: Version, key: ManagementKeyDep, rules: RulesDep
) -> RuleAnswer:
    return _answer(await rules.get(key.space_id, identifier, version))


@router.put(
    "/{identifier}",
    summary="Update the highest version of a rule",
    description="Fields of the body replace the version's; missing or null fields "
    "keep theirs. The id, alias and version number never change.",
    responses=problem_responses(400, 401, 403, 404, 413),
    openapi_extra=_RULE_BODY,
    response_model=Rule,
    response_model_exclude_none=True,
)
async def update_latest(
    identifier: Identifier, key: ManagementKeyDep, rules: RulesDep, body: DocumentDep
) -> RuleAnswer:
    return _answer(await rules.update(key.space_id, identifier, None, body))


@router.put(
    "/{identifier}/{version}",
    summary="Update one version of a rule",
    description="Fields of the body replace the version's; missing or null fields "
    "keep theirs. The id, alias and version number never change.",
    responses=problem_responses(400, 401, 403, 404, 413),
    openapi_extra=_RULE_BODY,
    response_model=Rule,
    response_model_exclude_none=True,
)
async def update_version(
    identifier: Identifier,
    version: Version,
    key: ManagementKeyDep,
    rules: RulesDep,
    body: DocumentDep,
) -> RuleAnswer:
    return _answer(await rules.update(key.space_id, identifier, version, body))


@router.put(
    "/status/{identifier}/{status}",
    summary="Publish or unpublish the highest version of a rule",
    responses=problem_responses(400, 401, 403, 404),
    response_model=Rule,
    response_model_exclude_none=True,
)
async def set_status_latest(
    identifier: Identifier, status: RuleStatus, key: ManagementKeyDep, rules: RulesDep
) -> RuleAnswer:
    return _answer(await rules.set_status(key.space_id, identifier, status, None))


@router.put(
    "/status/{identifier}/{status}/{version}",
    summary="Publish or unpublish one version of a rule",
    responses=problem_responses(400, 401, 403, 404),
    response_model=Rule,
    response_model_exclude_none=True,
)
async def set_status(
    identifier: Identifier,
    status: RuleStatus,
    version: Version,
    key: ManagementKeyDep,
    rules: RulesDep,
) -> RuleAnswer:
    return _answer(await rules.set_status(key.space_id, identifier, status, version))


@router.post(
    "/{identifier}/new-version",
    status_code=201,
    summary="Add a version: a copy of the highest one, with the body laid over it",
    description="Pending unless the body says `status: published`. The rule's name, "
    "alias and id stay as they are, whatever the body says.",
    responses=problem_responses(400, 401, 403, 404, 413),
    openapi_extra=_RULE_BODY,
    response_model=Rule,
    response_model_exclude_none=True,
)
async def new_version(
    identifier: Identifier,
    key: ManagementKeyDep,
    rules: RulesDep,
    body: DocumentDep,
    response: Response,
) -> RuleAnswer:
    return _created(response, await rules.new_version(key.space_id, identifier, body))


@router.delete(
    "/{identifier}",
    status_code=204,
    summary="Delete every version of a rule (refused while any has waiting or running jobs)",
    responses=problem_responses(401, 403, 404, 409),
)
async def delete_rule(identifier: Identifier, key: ManagementKeyDep, rules: RulesDep) -> Response:
    await rules.delete(key.space_id, identifier, None)
    return Response(status_code=204)


@router.delete(
    "/{identifier}/{version}",
    status_code=204,
    summary="Delete one version of a rule (refused while it has waiting or running jobs)",
    description="The rule goes with its last version.",
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def delete_version(
    identifier: Identifier, version: Version, key: ManagementKeyDep, rules: RulesDep
) -> Response:
    await rules.delete(key.space_id, identifier, version)
    return Response(status_code=204)
