"""Management API for rules (Management key). For now: validation of a flow."""

from __future__ import annotations

from typing import Any

import yaml
from fastapi import APIRouter, Request

from flowjobs.api.deps import AppState, CatalogDep, ManagementKeyDep, parse_json, read_body
from flowjobs.api.problems import problem_responses
from flowjobs.api.schemas import FlowValidation
from flowjobs.errors import InvalidJsonError

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


async def _document(request: Request) -> Any:
    state: AppState = request.app.state.flowjobs
    body = await read_body(request, state.settings.max_body_bytes)
    if "yaml" in request.headers.get("content-type", ""):
        try:
            return yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise InvalidJsonError(f"The request body is not valid YAML: {exc}") from exc
    return parse_json(body)


@router.post(
    "/validate",
    response_model=FlowValidation,
    summary="Report every problem of a flow document, without storing it",
    responses=problem_responses(400, 401, 403, 413),
    openapi_extra=_DOCUMENT,
)
async def validate(request: Request, catalog: CatalogDep, key: ManagementKeyDep) -> FlowValidation:
    document = await _document(request)
    if not isinstance(document, dict):
        return FlowValidation(valid=False, problems=["the flow document must be an object"])
    problems = await catalog.problems(key.space_id, document)
    return FlowValidation(valid=not problems, problems=problems)
