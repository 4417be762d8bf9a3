"""``GET /api/space/items``: the rules of the Management key's space, as the
SDKs' ``getRulesForSpace`` reads them."""

from __future__ import annotations

from fastapi import APIRouter

from flowjobs.api.deps import ManagementKeyDep, RulesDep
from flowjobs.api.problems import problem_responses
from flowjobs.schemas import RuleSummary

router = APIRouter(prefix="/api/space", tags=["rules"])


@router.get(
    "/items",
    response_model=list[RuleSummary],
    summary="Every version of every rule of the key's space",
    description="One entry per version, by alias then version, without the flows "
    "(read one with GET /api/rule/{idOrAlias}/{version}).",
    responses=problem_responses(401, 403),
)
async def space_items(key: ManagementKeyDep, rules: RulesDep) -> list[RuleSummary]:
    return [RuleSummary.from_version(rule) for rule in await rules.list_rules(key.space_id)]
