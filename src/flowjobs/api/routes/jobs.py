"""The Jobs API, at the paths the DecisionRules SDKs call."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse

from flowjobs.api import events
from flowjobs.api.deps import (
    AppState,
    BearerSecretDep,
    ManagerDep,
    SolverKeyDep,
    StartKeyDep,
    get_state,
)
from flowjobs.api.problems import problem_responses
from flowjobs.api.start_core import AdmittedStart, StartOptions, admit_start, start_job
from flowjobs.domain import JobFilter, JobRecord, JobState
from flowjobs.errors import InvalidRequestError
from flowjobs.manager import MAX_PAGE, MAX_VERSION
from flowjobs.schemas import (
    Job,
    JobList,
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
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        description="a retry with the same key and request returns the job the first one "
        "started (within 24 h by default); the same key with another request answers 422",
    ),
]
Wait = Annotated[
    float | None,
    Query(ge=0, le=60, description="answer once the job is final, or after this many seconds"),
]


def _job_response(response: Response, job: JobRecord) -> Job:
    response.headers["Location"] = f"/job/{job.id}"
    return Job.from_record(job)


async def admitted_start(
    request: Request, state: Annotated[AppState, Depends(get_state)], secret: BearerSecretDep
) -> AdmittedStart:
    """The start core's checks before the start (key, rate, body): a
    dependency, so that FastAPI validates the query and headers after them."""
    declared = request.headers.get("content-length", "")
    return await admit_start(state, secret, declared, request.stream())


AdmittedStartDep = Annotated[AdmittedStart, Depends(admitted_start)]


async def _start(
    state: AppState, admitted: AdmittedStart, response: Response, options: StartOptions
) -> Job:
    return _job_response(response, await start_job(state, admitted, options))


@router.post(
    "/start/{identifier}",
    response_model=Job,
    summary="Start a job of the latest published version",
    description="Job started successfully",
    responses=problem_responses(400, 401, 402, 403, 404, 413, 422, 429),
    openapi_extra=_BODY,
)
async def start_latest(
    identifier: str,
    state: Annotated[AppState, Depends(get_state)],
    admitted: AdmittedStartDep,
    response: Response,
    priority: Priority = None,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> Job:
    options = StartOptions(identifier, None, correlation_id, priority, idempotency_key)
    return await _start(state, admitted, response, options)


@router.post(
    "/start/{identifier}/{version}",
    response_model=Job,
    summary="Start a job of one version ('latest' allowed)",
    description="Job started successfully",
    responses=problem_responses(400, 401, 402, 403, 404, 413, 422, 429),
    openapi_extra=_BODY,
)
async def start_version(
    identifier: str,
    version: str,
    state: Annotated[AppState, Depends(get_state)],
    admitted: AdmittedStartDep,
    response: Response,
    priority: Priority = None,
    correlation_id: CorrelationId = None,
    idempotency_key: IdempotencyKey = None,
) -> Job:
    options = StartOptions(identifier, version, correlation_id, priority, idempotency_key)
    return await _start(state, admitted, response, options)


@router.post(
    "/rerun/{jobId}",
    response_model=Job,
    summary="Start a new job with the same rule version and input as an ERROR or CANCELED job",
    responses=problem_responses(400, 401, 402, 403, 404, 409, 429),
)
async def rerun(
    jobId: str,
    manager: ManagerDep,
    key: StartKeyDep,
    response: Response,
    correlation_id: CorrelationId = None,
) -> Job:
    job = await manager.rerun(key, jobId, correlation_id=correlation_id)
    return _job_response(response, job)


def parse_states(text: str | None) -> frozenset[JobState]:
    """``RUNNING,WAITING`` as states; empty or absent: any state."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    unknown = [name for name in names if name not in JobState.__members__]
    if unknown:
        raise InvalidRequestError(
            f"state: unknown {', '.join(unknown)[:200]}; one or more of "
            + ", ".join(JobState.__members__)
        )
    return frozenset(JobState(name) for name in names)


def _as_utc(moment: datetime | None) -> datetime | None:
    # An ISO time without an offset is taken as UTC, like every time flowjobs stores.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get(
    "",
    response_model=JobList,
    response_model_exclude_unset=True,
    summary="The space's jobs, newest first, a page at a time",
    responses=problem_responses(400, 401, 403, 404),
)
async def list_jobs(
    manager: ManagerDep,
    key: SolverKeyDep,
    state: Annotated[
        str | None, Query(description="comma-separated states, e.g. RUNNING,WAITING")
    ] = None,
    rule: Annotated[str | None, Query(description="the rule's baseId or alias")] = None,
    version: Annotated[
        int | None, Query(ge=1, le=MAX_VERSION, description="a version of rule")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="ISO 8601; jobs created at or after it")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="jobs per page")] = 50,
    cursor: Annotated[
        str | None, Query(max_length=500, description="nextCursor of the previous page")
    ] = None,
    full: Annotated[bool, Query(description="include inputData and output")] = False,
) -> JobList:
    filters = JobFilter(
        states=parse_states(state), rule=rule, version=version, since=_as_utc(since)
    )
    page = await manager.list_jobs(key.space_id, filters, limit=limit, cursor=cursor, full=full)
    return JobList(
        jobs=[Job.from_record(job, full=full) for job in page.jobs], nextCursor=page.next_cursor
    )


@router.post(
    "/cancel/{jobId}",
    response_model=Job,
    summary="Cancel a job",
    description="Job canceled successfully (or already canceling / canceled)",
    responses=problem_responses(401, 403, 404, 409),
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
    responses=problem_responses(401, 403, 404),
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
    responses=problem_responses(401, 403, 404),
)
async def logs(jobId: str, manager: ManagerDep, key: SolverKeyDep) -> JobLogs:
    details = await manager.details(key, jobId)
    return JobLogs(jobId=jobId, lines=details.logs, dropped=details.logs_dropped)


@router.get(
    "/{jobId}/events",
    # Not response_class=EventSourceResponse: FastAPI would then treat this
    # coroutine as a generator of events. The stream is built here instead.
    response_class=StreamingResponse,
    summary="Server-Sent Events of the job's state and progress until it ends",
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "state, progress, end"},
        **problem_responses(401, 403, 404, 429),
    },
)
async def job_events(
    jobId: str,
    manager: ManagerDep,
    key: SolverKeyDep,
    state: Annotated[AppState, Depends(get_state)],
) -> EventSourceResponse:
    changes = manager.job_changes(key, jobId)
    first = await anext(changes)  # 404 or 429 here, before the stream starts
    keepalive = state.settings.sse_keepalive_seconds
    return EventSourceResponse(events.job_stream(first, changes, keepalive), headers=events.HEADERS)


@router.get(
    "/{jobId}",
    response_model=Job,
    summary="Job info; with ?wait=N, once the job is final or after N seconds",
    responses=problem_responses(400, 401, 403, 404, 429),
)
async def info(
    jobId: str, manager: ManagerDep, key: SolverKeyDep, request: Request, wait: Wait = None
) -> Job | Response:
    if wait:
        job = await _unless_disconnected(request, manager.wait_for_end(key, jobId, wait))
        return Response(status_code=CLIENT_GONE) if job is None else Job.from_record(job)
    return Job.from_record(await manager.info(key, jobId))


CLIENT_GONE = 499  # never sent: for the request metrics only (as nginx logs it)


async def _until_disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        continue


async def _unless_disconnected(
    request: Request, waiting: Coroutine[Any, Any, JobRecord]
) -> JobRecord | None:
    """The result of ``waiting``, or None as soon as the client hangs up (so
    that a long-poll nobody reads no longer holds a waiter)."""
    job = asyncio.create_task(waiting)
    gone = asyncio.create_task(_until_disconnected(request))
    try:
        await asyncio.wait({job, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (job, gone):
            task.cancel()
        await asyncio.gather(job, gone, return_exceptions=True)
    return None if job.cancelled() else job.result()
