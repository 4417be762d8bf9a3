"""Management API: a space's usage and quota (Management key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from flowjobs.api.deps import ManagementKeyDep, UsageDep
from flowjobs.api.problems import problem_responses
from flowjobs.schemas import SpaceUsage

router = APIRouter(prefix="/api/space", tags=["usage"])

Month = Annotated[
    str | None,
    Query(description="YYYY-MM (UTC); default: the current month", examples=["2026-11"]),
]


@router.get(
    "/usage",
    response_model=SpaceUsage,
    summary="Execution seconds used, billed and remaining this month, and jobs by state",
    responses=problem_responses(400, 401, 403),
)
async def space_usage(key: ManagementKeyDep, usage: UsageDep, month: Month = None) -> SpaceUsage:
    return SpaceUsage.from_report(await usage.report(key.space_id, month))
