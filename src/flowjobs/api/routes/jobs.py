"""The Jobs API, at the paths the DecisionRules SDKs call."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from flowjobs.api.deps import JobInputDep, ManagerDep, SolverKeyDep
from flowjobs.api.problems import problem_responses
from flowjobs.domain import JobRecord
from flowjobs.schemas import (
    Job,
    JobLogs,
    JobRuleReference,
    JobTrace,
    RuleCancelResult,
    SpaceCancelResult,
)

router = APIRouter(prefix="/job", tags=["jobs"])

_BODY = {
    "requestBody": {
        "required": False,
        "description": 'The job\'s input: any JSON value; {"data": x} is unwrapped to x.',
        "content": {"application/json": {"schema": {}}},
    }
}
Running = Annotated[bool, Query(description="also cancel RUNNING jobs (they become CANCELING)")]
Priority = Annotated[
    int | None, Query(ge=0, le=10, description="0-10, higher runs first; default: the space's")
]
CorrelationId = Annotated[
    str | None, Header(alias="X-Correlation-Id", max_length=200, description="sets correlationId")
]


def _job_response(response: Response, job: JobRecord) -> Job:
    response.headers["Location"] = f"/job/{job.id}"
    return Job.from_record(job)


async def _start(
    manager: ManagerDep,
    key: SolverKeyDep,
    response: Response,
    identifier: str,
    version: str | None,
    input_data: object,
    correlation_id: str | None,
    priority: int | None,
) -> Job:
    job = await manager.start(
        key, identifier, version, input_data, correlation_id=correlation_id, priority=priority
    )
    return _job_response(response, job)


@router.post(
    "/start/{identifier}",
    response_model=Job,
    summary="Start a job of the latest published version",
    description="Job started successfully",
    responses=problem_responses(400, 401, 402, 403, 404, 413),
    openapi_extra=_BODY,
)
async def start_latest(
    identifier: str,
    manager: ManagerDep,
    key: SolverKeyDep,
    input_data: JobInputDep,
    response: Response,
    priority: Priority = None,
    correlation_id: CorrelationId = None,
) -> Job:
    return await _start(
        manager, key, response, identifier, None, input_data, correlation_id, priority
    )


@router.post(
    "/start/{identifier}/{version}",
    response_model=Job,
    summary="Start a job of one version ('latest' allowed)",
    description="Job started successfully",
    responses=problem_responses(400, 401, 402, 403, 404, 413),
    openapi_extra=_BODY,
)
async def start_version(
    identifier: str,
    version: str,
    manager: ManagerDep,
    key: SolverKeyDep,
    input_data: JobInputDep,
    response: Response,
    priority: Priority = None,
    correlation_id: CorrelationId = None,
) -> Job:
    return await _start(
        manager, key, response, identifier, version, input_data, correlation_id, priority
    )


@router.post(
    "/cancel/{jobId}",
    response_model=Job,
    summary="Cancel a job",
    description="Job canceled successfully (or already canceling / canceled)",
    responses=problem_responses(400, 401, 403, 404, 409),
)
async def cancel(jobId: str, manager: ManagerDep, key: SolverKeyDep, response: Response) -> Job:
    return _job_response(response, await manager.cancel(key, jobId))


@router.post(
    "/cancelAll/space/{spaceId}",
    response_model=SpaceCancelResult,
    summary="Cancel every waiting job of a space",
    responses=problem_responses(400, 401, 403),
)
async def cancel_all_in_space(
    spaceId: str, manager: ManagerDep, key: SolverKeyDep, running: Running = False
) -> SpaceCancelResult:
    counts = await manager.cancel_all_in_space(key, spaceId, include_running=running)
    return SpaceCancelResult(
        spaceId=spaceId, canceledCount=counts.canceled, cancelingCount=counts.canceling
    )


@router.post(
    "/cancelAll/rule/{identifier}/{version}",
    response_model=RuleCancelResult,
    summary="Cancel every waiting job of a rule version",
    responses=problem_responses(400, 401, 403, 404),
)
async def cancel_all_of_rule(
    identifier: str,
    version: str,
    manager: ManagerDep,
    key: SolverKeyDep,
    running: Running = False,
) -> RuleCancelResult:
    result = await manager.cancel_all_of_rule(key, identifier, version, include_running=running)
    return RuleCancelResult(
        ruleReference=JobRuleReference(
            baseId=result.rule.base_id, version=result.rule.version, type=result.rule.type
        ),
        canceledCount=result.counts.canceled,
        cancelingCount=result.counts.canceling,
    )


@router.get(
    "/{jobId}/trace",
    response_model=JobTrace,
    summary="The job's node trace, while it runs and after",
    responses=problem_responses(400, 401, 403, 404),
)
async def trace(jobId: str, manager: ManagerDep, key: SolverKeyDep) -> JobTrace:
    details = await manager.details(key, jobId)
    snapshot = details.trace or {}
    return JobTrace(
        jobId=jobId,
        entries=snapshot.get("entries", []),
        summarised=snapshot.get("summarised", {}),
        totalEntries=snapshot.get("totalEntries", 0),
    )


@router.get(
    "/{jobId}/logs",
    response_model=JobLogs,
    summary="Log lines of the job's log nodes and handler",
    responses=problem_responses(400, 401, 403, 404),
)
async def logs(jobId: str, manager: ManagerDep, key: SolverKeyDep) -> JobLogs:
    details = await manager.details(key, jobId)
    return JobLogs(jobId=jobId, lines=details.logs, dropped=details.logs_dropped)


@router.get(
    "/{jobId}",
    response_model=Job,
    summary="Job info",
    responses=problem_responses(400, 401, 403, 404),
)
async def info(jobId: str, manager: ManagerDep, key: SolverKeyDep) -> Job:
    return Job.from_record(await manager.info(key, jobId))
