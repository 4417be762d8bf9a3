"""Management API for rules (Management key). For now: validation of a flow."""

from __future__ import annotations

from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Request

from flowjobs.api.deps import (
    AppState,
    CatalogDep,
    ManagementKeyDep,
    get_state,
    parse_json,
    read_body,
)
from flowjobs.api.problems import problem_responses
from flowjobs.errors import InvalidJsonError
from flowjobs.schemas import FlowValidation

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


async def flow_document(request: Request, state: Annotated[AppState, Depends(get_state)]) -> Any:
    """The body as a flow document: JSON, or YAML with a YAML content type."""
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
async def validate(
    key: ManagementKeyDep,  # before the body: a missing key answers 401 unread
    catalog: CatalogDep,
    document: Annotated[Any, Depends(flow_document)],
) -> FlowValidation:
    if not isinstance(document, dict):
        return FlowValidation(valid=False, problems=["the flow document must be an object"])
    problems = await catalog.problems(key.space_id, document)
    return FlowValidation(valid=not problems, problems=problems)
