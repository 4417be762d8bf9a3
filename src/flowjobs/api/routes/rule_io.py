"""Import and export of rules in DecisionRules' formats (Management key):
one rule, a rule flow with the rules it uses, a folder export. Importing a
rule whose alias exists adds a version; docs/rules.md, "Import and export"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from flowjobs.api.deps import ManagementKeyDep, RulesDep
from flowjobs.api.problems import problem_responses
from flowjobs.api.routes.rules import DocumentDep
from flowjobs.schemas import RuleSummary

router = APIRouter(prefix="/api", tags=["rules"])

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A rule as DecisionRules exports it, a JSON array (a rule flow and "
        'its rules), or a folder export ({"export": {"data": {"rules": [...]}}}).',
        "content": {"application/json": {"schema": {}}},
    }
}
Identifier = Annotated[str, Path(description="the rule's id (baseId) or alias")]
Version = Annotated[str, Path(description="a version number, or 'latest'")]


async def _import(key: ManagementKeyDep, rules: RulesDep, body: Any) -> list[RuleSummary]:
    imported = await rules.import_rules(key.space_id, body)
    return [RuleSummary.from_version(rule) for rule in imported]


@router.post(
    "/import",
    status_code=201,
    summary="Import rules: one rule, a rule flow with its rules, or a folder export",
    description="Every rule is checked first; none is written if one is invalid. A rule "
    "whose alias exists in the space gets a new version (importing twice never duplicates).",
    responses=problem_responses(400, 401, 403, 413),
    openapi_extra=_IMPORT_BODY,
    response_model=list[RuleSummary],
)
@router.post(  # DecisionRules' path for a rule flow with its rules
    "/rule-flow/import",
    status_code=201,
    include_in_schema=False,
    response_model=list[RuleSummary],
)
@router.post(  # the SDKs' importFolder (flowjobs has no folders: into the space)
    "/folder/import/{node_id}",
    status_code=201,
    include_in_schema=False,
    response_model=list[RuleSummary],
)
async def import_rules(
    key: ManagementKeyDep, rules: RulesDep, body: DocumentDep
) -> list[RuleSummary]:
    return await _import(key, rules, body)


@router.get(
    "/export/{identifier}",
    summary="Export the highest version of a rule (a rule flow: with the rules it uses)",
    responses=problem_responses(401, 403, 404),
)
@router.get("/rule-flow/export/{identifier}", include_in_schema=False)
async def export_latest(identifier: Identifier, key: ManagementKeyDep, rules: RulesDep) -> Any:
    return await rules.export(key.space_id, identifier, None)


@router.get(
    "/export/{identifier}/{version}",
    summary="Export one version of a rule (a rule flow: with the rules it uses)",
    responses=problem_responses(400, 401, 403, 404),
)
@router.get("/rule-flow/export/{identifier}/{version}", include_in_schema=False)
async def export_version(
    identifier: Identifier, version: Version, key: ManagementKeyDep, rules: RulesDep
) -> Any:
    return await rules.export(key.space_id, identifier, version)


@router.get("/folder/export/{node_id}", include_in_schema=False)  # the SDKs' exportFolder
@router.get(
    "/folder/export",
    summary="Export the highest version of every rule of the space as a folder export",
    responses=problem_responses(401, 403),
)
async def export_space(key: ManagementKeyDep, rules: RulesDep) -> Any:
    space = await rules.catalog.space(key.space_id)
    return await rules.export_space(key.space_id, space.name)
