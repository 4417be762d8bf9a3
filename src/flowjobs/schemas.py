"""Public JSON shapes of the API, shared by the server, the webhook dispatcher
and the Python client. Class names are the OpenAPI schema
names that existing clients know: Job, JobContext, JobStatus, JobRuleReference
(and the JobState / JobStatusCode enums from the domain)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flowjobs.domain import JobRecord, JobState, JobStatusCode


class JobRuleReference(BaseModel):
    baseId: str
    version: int
    type: str = Field(examples=["integration-flow"])


class JobStatus(BaseModel):
    state: JobState
    code: JobStatusCode
    message: str


class JobContext(BaseModel):
    spaceId: str
    billingUserId: str
    executorUser: dict[str, Any] | None = None
    usedApiKeyId: str
    environmentGroup: str
    priority: int
    parallelLimit: int


class ApiKeyReference(BaseModel):
    id: str
    name: str


class JobError(BaseModel):
    message: str
    nodeId: str | None = None
    type: str | None = None


class JobProgress(BaseModel):
    done: int
    total: int


class Job(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "jobId": "5b0f6c8e-3d8a-4a8e-9a53-0c1d3f0b7e11",
                    "correlationId": "order-1234",
                    "ruleReference": {
                        "baseId": "0e6c9b7a-6a39-4a43-b5d1-5f1c8d9e2f10",
                        "version": 1,
                        "type": "integration-flow",
                    },
                    "inputData": {"name": "Ada"},
                    "output": None,
                    "status": {
                        "state": "WAITING",
                        "code": "JOB_INITIALIZED",
                        "message": "Job initialized",
                    },
                }
            ]
        }
    )

    jobId: str
    correlationId: str
    ruleReference: JobRuleReference
    inputData: Any = None
    output: list[Any] | None = Field(
        None, description="the flow's result as an array; null until the job completes"
    )
    context: JobContext
    status: JobStatus
    createdAt: datetime
    updatedAt: datetime
    claimedAt: datetime | None = None
    endedAt: datetime | None = None
    apiKey: ApiKeyReference
    error: JobError | None = Field(None, description="set when the job is in ERROR")
    progress: JobProgress | None = Field(
        None, description="items done of total while a flow loops (last value after it ends)"
    )
    rerunOf: str | None = Field(None, description="the job this one re-runs (POST /job/rerun)")

    @classmethod
    def from_record(cls, job: JobRecord, *, full: bool = True) -> Job:
        """The job's JSON shape; without ``full`` (listings) inputData and
        output are left unset, so that responses dumped with
        ``exclude_unset`` omit them."""
        data = {"inputData": job.input, "output": job.output} if full else {}
        return cls(
            jobId=job.id,
            correlationId=job.correlation_id,
            ruleReference=JobRuleReference(
                baseId=job.base_id, version=job.version, type=job.rule_type
            ),
            **data,
            context=JobContext(
                spaceId=job.space_id,
                billingUserId=job.space_id,  # usage is billed to the space
                executorUser=None,
                usedApiKeyId=job.api_key_id,
                environmentGroup=job.environment_group,
                priority=job.priority,
                parallelLimit=job.parallel_limit,
            ),
            status=JobStatus(state=job.state, code=job.code, message=job.message),
            createdAt=job.created_at,
            updatedAt=job.updated_at,
            claimedAt=job.claimed_at,
            endedAt=job.ended_at,
            apiKey=ApiKeyReference(id=job.api_key_id, name=job.api_key_name),
            error=JobError(**job.error) if job.error else None,
            progress=JobProgress(**job.progress) if job.progress else None,
            rerunOf=job.rerun_of,
        )


class SpaceCancelResult(BaseModel):
    spaceId: str
    canceledCount: int = Field(description="waiting jobs now CANCELED")
    cancelingCount: int = Field(description="running jobs now CANCELING (with ?running=true)")


class RuleCancelResult(BaseModel):
    ruleReference: JobRuleReference
    canceledCount: int
    cancelingCount: int


class Problem(BaseModel):
    """An RFC 9457 problem details body (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str = Field(description="stable machine-readable error code", examples=["RULE_NOT_FOUND"])
    problems: list[str] | None = Field(None, description="every problem, when there are several")


class JobTrace(BaseModel):
    """One entry per node execution; older loop iterations are summarised."""

    jobId: str
    entries: list[dict[str, Any]]
    summarised: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per node id: executions folded out of entries"
    )
    totalEntries: int = Field(0, description="executions recorded, summarised ones included")


class JobLogs(BaseModel):
    jobId: str
    lines: list[dict[str, Any]] = Field(description="time, level, message, nodeId")
    dropped: int = Field(0, description="oldest lines dropped over the per-job limit")


class FlowValidation(BaseModel):
    valid: bool
    problems: list[str]


class JobList(BaseModel):
    """A page of ``GET /job``, newest first."""

    jobs: list[Job] = Field(description="without inputData and output unless full=true")
    nextCursor: str | None = Field(
        description="pass as cursor for the next page; null on the last page"
    )
