"""Public JSON shapes of the API, shared by the server, the webhook dispatcher
and the Python client. Class names are the OpenAPI schema
names that existing clients know: Job, JobContext, JobStatus, JobRuleReference
(and the JobState / JobStatusCode enums from the domain)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_serializer

from flowjobs.domain import (
    DeliveryState,
    JobRecord,
    JobState,
    JobStatusCode,
    RuleStatus,
    RuleVersion,
    UsageReport,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)


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


# ---- usage (issue 5) ---------------------------------------------------------------


class UsageJobCounts(BaseModel):
    """Jobs created in the month, by their state now."""

    WAITING: int = 0
    RUNNING: int = 0
    COMPLETED: int = 0
    CANCELING: int = 0
    CANCELED: int = 0
    ERROR: int = 0


def _seconds(value: float) -> float:
    return round(value, 3)  # milliseconds are enough for a bill


class SpaceUsage(BaseModel):
    """A space's execution seconds in one calendar month (UTC)."""

    spaceId: str
    spaceName: str
    month: str = Field(examples=["2026-11"], description="YYYY-MM, UTC")
    usedSeconds: float = Field(description="seconds from RUNNING to the end, of jobs that ended")
    billedSeconds: float = Field(
        description="seconds billed: all of them with pay-as-you-go, else at most quotaSeconds"
    )
    quotaSeconds: float | None = Field(description="free seconds a month; null: unlimited")
    remainingSeconds: float | None = Field(
        description="quotaSeconds - usedSeconds, at least 0; null: unlimited"
    )
    payAsYouGo: bool = Field(description="jobs may still start once the quota is used up")
    jobCounts: UsageJobCounts

    @classmethod
    def from_report(cls, report: UsageReport) -> SpaceUsage:
        remaining = report.remaining_seconds
        return cls(
            spaceId=report.space.id,
            spaceName=report.space.name,
            month=report.month,
            usedSeconds=_seconds(report.usage.used_seconds),
            billedSeconds=_seconds(report.usage.billed_seconds),
            quotaSeconds=report.space.quota_seconds,
            remainingSeconds=None if remaining is None else _seconds(remaining),
            payAsYouGo=report.space.pay_as_you_go,
            jobCounts=UsageJobCounts(**{s.value: n for s, n in report.job_counts.items()}),
        )


# ---- the Management API for rules ------------------------------------------------------


def _millis(value: datetime | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as DecisionRules writes rule dates."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class RuleSummary(BaseModel):
    """One version of a rule, as ``GET /api/space/items`` lists it."""

    ruleId: str = Field(description="the rule's id, common to all its versions (= baseId)")
    baseId: str
    ruleAlias: str
    name: str
    description: str = ""
    type: str = Field(examples=["integration-flow"])
    status: RuleStatus
    version: int
    tags: list[str] = Field(default_factory=list)
    createdIn: datetime | None = Field(None, description="when this version was created")
    lastUpdate: datetime | None = Field(None, description="last change of this version")

    @field_serializer("createdIn", "lastUpdate")
    def _dates(self, value: datetime | None) -> str | None:
        return _millis(value)

    @classmethod
    def fields_of(cls, rule: RuleVersion) -> dict[str, Any]:
        """The summary fields; the document's values win over the rule row's,
        and values of a wrong type (pushed before they were checked) are left out."""
        document = rule.document
        name = document.get("name")
        description = document.get("description", rule.description)
        tags = document.get("tags")
        return {
            "ruleId": rule.base_id,
            "baseId": rule.base_id,
            "ruleAlias": rule.alias,
            "name": name if isinstance(name, str) else rule.name,
            "description": description if isinstance(description, str) else "",
            "type": rule.type,
            "status": rule.status,
            "version": rule.version,
            "tags": [t for t in tags if isinstance(t, str)] if isinstance(tags, list) else [],
            "createdIn": rule.created_at,
            "lastUpdate": rule.updated_at,
        }

    @classmethod
    def from_version(cls, rule: RuleVersion) -> RuleSummary:
        return cls(**cls.fields_of(rule))


class Rule(RuleSummary):
    """A rule version with its flow: the SDKs' rule fields, and the flow
    document under ``nodes`` (or ``handler``) with its ``settings``. Fields
    without a value are left out of the answer."""

    inputSchema: dict[str, Any] | bool | None = Field(
        None, description="JSON Schema that a job's input must match"
    )
    outputSchema: dict[str, Any] | bool | None = None
    settings: dict[str, Any] | None = None
    nodes: list[Any] | None = Field(None, description="the flow's nodes (docs/flows.md)")
    handler: str | None = Field(None, description='or a Python handler, "package.module:function"')

    @classmethod
    def from_version(cls, rule: RuleVersion) -> Rule:
        document = rule.document

        def typed(name: str, *kinds: type) -> Any:
            value = document.get(name)
            return value if isinstance(value, kinds) else None

        return cls(
            **cls.fields_of(rule),
            inputSchema=typed("inputSchema", dict, bool),
            outputSchema=typed("outputSchema", dict, bool),
            settings=typed("settings", dict),
            nodes=typed("nodes", list),
            handler=typed("handler", str),
        )


def dr_rule_document(rule: RuleVersion) -> dict[str, Any]:
    """A DecisionRules rule (decision table, rule flow) as DecisionRules
    answers and exports it: the stored document with the server's fields."""
    return {
        **rule.document,
        "ruleId": rule.base_id,
        "baseId": rule.base_id,
        "ruleAlias": rule.alias,
        "type": rule.type,
        "status": rule.status.value,
        "version": rule.version,
        "createdIn": _millis(rule.created_at),
        "lastUpdate": _millis(rule.updated_at),
    }


class RuleBody(BaseModel):
    """A rule as the SDKs send it (create, update, new version). Every field
    is optional where the operation allows; ``null`` is the same as absent;
    other fields (``ruleId``, ``version``, ``createdIn``, ``auditLog``, ...)
    are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    name: str | None = Field(None, description="required to create; ignored by new-version")
    description: str | None = None
    ruleAlias: str | None = Field(None, description="create only; default: the name as a slug")
    alias: str | None = Field(None, description="the same as ruleAlias (flow document form)")
    type: str | None = Field(
        None,
        description="integration-flow (default), or decision-table / composition: a "
        "DecisionRules decision table or rule flow with its own fields (decisionTable, "
        "userVariables, dataTree, ...), stored as sent (docs/rules.md)",
    )
    status: RuleStatus | None = Field(None, description="default pending (create, new version)")
    tags: list[str] | None = None
    inputSchema: dict[str, Any] | bool | None = None
    outputSchema: dict[str, Any] | bool | None = None
    settings: dict[str, Any] | None = None
    nodes: list[dict[str, Any]] | None = Field(None, description="the flow's nodes")
    handler: str | None = None


# ---- webhooks --------------------------------------------------------------------------

WebhookAlias = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")]
WebhookUrl = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
RuleRefs = Literal["all"] | Annotated[list[str], Field(max_length=1000)]
_RULES = (
    '"all" (every flow of the space, now and later) or a list of rule ids or aliases '
    "of integration flows"
)


class WebhookCreate(BaseModel):
    """The body of POST /api/webhooks."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="http or https; a public address unless allowed")
    alias: WebhookAlias = Field(description="unique in the space")
    enabled: bool = True
    description: str | None = Field(None, max_length=2000)
    events: list[WebhookEvent] = Field(min_length=1, max_length=3)
    rules: RuleRefs = Field("all", description=_RULES)


class WebhookUpdate(BaseModel):
    """The body of PUT /api/webhooks/{id}: the fields given replace the
    stored ones; the secret never changes."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl | None = None
    alias: WebhookAlias | None = None
    enabled: bool | None = None
    description: str | None = Field(None, max_length=2000)
    events: list[WebhookEvent] | None = Field(None, min_length=1, max_length=3)
    rules: RuleRefs | None = Field(None, description=_RULES)


class WebhookPublic(BaseModel):
    id: str
    alias: str
    url: str
    enabled: bool
    description: str | None
    events: list[WebhookEvent]
    rules: Literal["all"] | list[str] = Field(description='"all", or the baseIds of its flows')
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def from_webhook(cls, hook: Webhook) -> WebhookPublic:
        return cls(**_webhook_fields(hook))


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="the signing secret: shown once, in this answer only; store it now"
    )


def _webhook_fields(hook: Webhook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "alias": hook.alias,
        "url": hook.url,
        "enabled": hook.enabled,
        "description": hook.description,
        "events": list(hook.events),
        "rules": "all" if hook.base_ids is None else list(hook.base_ids),
        "createdAt": hook.created_at,
        "updatedAt": hook.updated_at,
    }


def created_webhook(hook: Webhook, secret: str) -> WebhookCreated:
    return WebhookCreated(**_webhook_fields(hook), secret=secret)


class WebhookAttemptPublic(BaseModel):
    attempt: int
    startedAt: datetime
    statusCode: int | None = Field(description="the receiver's status; null if none came")
    latencyMs: float | None
    error: str | None = Field(description="an excerpt of what went wrong; null on 2xx")

    @classmethod
    def from_attempt(cls, attempt: WebhookAttempt) -> WebhookAttemptPublic:
        return cls(
            attempt=attempt.attempt,
            startedAt=attempt.started_at,
            statusCode=attempt.status_code,
            latencyMs=attempt.latency_ms,
            error=attempt.error,
        )


class WebhookDeliveryPublic(BaseModel):
    deliveryId: str
    webhookId: str
    eventType: str
    jobId: str | None = Field(description="null for a test event")
    state: DeliveryState
    nextAttemptAt: datetime | None = Field(description="while PENDING")
    createdAt: datetime
    deliveredAt: datetime | None
    lastStatusCode: int | None
    lastError: str | None
    attempts: list[WebhookAttemptPublic] = Field(description="oldest first")

    @classmethod
    def from_delivery(cls, delivery: WebhookDelivery) -> WebhookDeliveryPublic:
        pending = delivery.state is DeliveryState.PENDING
        return cls(
            deliveryId=delivery.id,
            webhookId=delivery.webhook_id,
            eventType=delivery.event_type,
            jobId=delivery.job_id,
            state=delivery.state,
            nextAttemptAt=delivery.next_attempt_at if pending else None,
            createdAt=delivery.created_at,
            deliveredAt=delivery.delivered_at,
            lastStatusCode=delivery.last_status,
            lastError=delivery.last_error,
            attempts=[WebhookAttemptPublic.from_attempt(a) for a in delivery.attempt_log],
        )


class JobList(BaseModel):
    """A page of ``GET /job``, newest first."""

    jobs: list[Job] = Field(description="without inputData and output unless full=true")
    nextCursor: str | None = Field(
        description="pass as cursor for the next page; null on the last page"
    )
