"""The job model: states, status codes, messages and allowed transitions.

Pure: no I/O. The state machine (see docs/api.md for the drawing)::

    WAITING ──claim──▶ RUNNING ──flow returns──▶ COMPLETED
       │                  ├──flow fails / timeout / lease lost──▶ ERROR
       │                  ├──shutdown past the grace period──▶ CANCELED (system)
       │                  └──cancel──▶ CANCELING ──stopped, or lease lost──▶ CANCELED
       └──cancel──▶ CANCELED

``REQUEUED`` (WAITING / JOB_WAITING) is reserved for jobs put back in the queue
(opt-in retry after a worker loss, a later feature).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class JobState(enum.StrEnum):
    WAITING = "WAITING"  # queued; no worker holds it
    RUNNING = "RUNNING"  # a worker holds its lease and runs the flow
    COMPLETED = "COMPLETED"  # final: the flow returned an output
    CANCELING = "CANCELING"  # cancel asked while running; the worker stops it
    CANCELED = "CANCELED"  # final: stopped by a user or by the system
    ERROR = "ERROR"  # final: the flow failed, timed out, or its worker died


class JobStatusCode(enum.StrEnum):
    JOB_SUCCESS = "JOB_SUCCESS"
    JOB_ERROR = "JOB_ERROR"
    JOB_TIMEOUT = "JOB_TIMEOUT"
    JOB_QUOTA_EXCEEDED = "JOB_QUOTA_EXCEEDED"
    JOB_EXECUTION_ERROR = "JOB_EXECUTION_ERROR"
    JOB_VALIDATION_ERROR = "JOB_VALIDATION_ERROR"
    JOB_USER_CANCELED = "JOB_USER_CANCELED"
    JOB_SYSTEM_CANCELED = "JOB_SYSTEM_CANCELED"
    ZOMBIE_PROCESS = "ZOMBIE_PROCESS"
    JOB_INITIALIZED = "JOB_INITIALIZED"
    JOB_RUNNING = "JOB_RUNNING"
    JOB_WAITING = "JOB_WAITING"


FINAL_STATES = frozenset({JobState.COMPLETED, JobState.CANCELED, JobState.ERROR})
ACTIVE_STATES = frozenset({JobState.RUNNING, JobState.CANCELING})


@dataclass(frozen=True)
class Status:
    state: JobState
    code: JobStatusCode
    message: str


INITIALIZED = Status(JobState.WAITING, JobStatusCode.JOB_INITIALIZED, "Job initialized")
REQUEUED = Status(JobState.WAITING, JobStatusCode.JOB_WAITING, "Job is waiting for a free slot")
RUNNING = Status(JobState.RUNNING, JobStatusCode.JOB_RUNNING, "Job is being processed")
CANCELING = Status(JobState.CANCELING, JobStatusCode.JOB_RUNNING, "Job is being canceled")
USER_CANCELED = Status(JobState.CANCELED, JobStatusCode.JOB_USER_CANCELED, "Job was canceled")
COMPLETED = Status(JobState.COMPLETED, JobStatusCode.JOB_SUCCESS, "Job completed")
ZOMBIE = Status(JobState.ERROR, JobStatusCode.ZOMBIE_PROCESS, "The process running the job stopped")


def system_canceled(reason: str) -> Status:
    return Status(JobState.CANCELED, JobStatusCode.JOB_SYSTEM_CANCELED, reason)


def execution_error(message: str) -> Status:
    return Status(JobState.ERROR, JobStatusCode.JOB_EXECUTION_ERROR, message)


def validation_error(message: str) -> Status:
    return Status(JobState.ERROR, JobStatusCode.JOB_VALIDATION_ERROR, message)


def timed_out(limit_seconds: float) -> Status:
    return Status(
        JobState.ERROR,
        JobStatusCode.JOB_TIMEOUT,
        f"Job exceeded its execution limit of {limit_seconds:g} s",
    )


def error_detail(
    status: Status, *, node_id: str | None = None, error_type: str | None = None
) -> dict[str, Any]:
    """The ``error`` object of a job in ERROR: message, node and kind of failure."""
    return {"message": status.message, "nodeId": node_id, "type": error_type or status.code.value}


def internal_error(reference: str) -> Status:
    return Status(
        JobState.ERROR,
        JobStatusCode.JOB_ERROR,
        f"Internal error while running the job (log reference {reference})",
    )


class KeyKind(enum.StrEnum):
    SOLVER = "solver"  # Jobs API
    MANAGEMENT = "management"  # management endpoints


class RuleStatus(enum.StrEnum):
    PENDING = "pending"
    PUBLISHED = "published"


RULE_TYPE_FLOW = "integration-flow"
RULE_TYPE_TABLE = "decision-table"  # DecisionRules' decision tables, solved by the Solver API
RULE_TYPE_COMPOSITION = "composition"  # DecisionRules' rule flows: tables chained by mappings


@dataclass(frozen=True)
class Space:
    id: str
    name: str
    parallel_limit: int
    priority: int
    quota_seconds: float | None = None  # free execution seconds a month; None: unlimited
    pay_as_you_go: bool = False  # past the quota, jobs still start (and are billed)


@dataclass(frozen=True)
class EndedJob:
    """A job that has just reached a final state, as the store hands it to
    what must happen in the same transaction (webhook events, usage)."""

    id: str
    space_id: str
    base_id: str
    state: JobState
    claimed_at: datetime | None  # None: it never ran
    ended_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    space_id: str
    name: str
    kind: KeyKind


@dataclass(frozen=True)
class KeyListing:
    """A key as ``flowjobs key list`` shows it: never its secret nor its hash."""

    key: ApiKey
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class RuleVersion:
    base_id: str
    space_id: str
    alias: str
    name: str
    description: str | None
    type: str
    version: int
    status: RuleStatus
    document: dict[str, Any]
    created_at: datetime | None = None  # of this version; None until stored
    updated_at: datetime | None = None  # last change of its document or status


@dataclass(frozen=True)
class JobRecord:
    id: str
    space_id: str
    base_id: str
    version: int
    rule_type: str
    correlation_id: str
    input: Any
    output: Any
    error: dict[str, Any] | None
    state: JobState
    code: JobStatusCode
    message: str
    priority: int
    parallel_limit: int
    environment_group: str
    api_key_id: str
    api_key_name: str
    execution_limit_s: float
    created_at: datetime
    updated_at: datetime
    claimed_at: datetime | None
    ended_at: datetime | None
    worker_id: str | None
    attempts: int
    progress: dict[str, int] | None = None
    rerun_of: str | None = None  # the job this one re-runs (POST /job/rerun)


def output_array(output: Any) -> list[Any]:
    """Jobs answer their output as a JSON array (what live clients expect)."""
    return output if isinstance(output, list) else [output]


@dataclass(frozen=True)
class IdempotentRequest:
    """A start that carried an ``Idempotency-Key``: the key, and a hash of
    what was asked (rule, version and input) to tell a retry from a reuse."""

    key: str
    request_hash: str


@dataclass(frozen=True)
class NewJob:
    """What the manager hands the store to enqueue one job."""

    id: str
    space: Space
    rule: RuleVersion
    correlation_id: str
    input: Any
    priority: int
    environment_group: str
    api_key: ApiKey
    execution_limit_s: float
    retry_on_loss: int = 0  # re-queues allowed when the worker dies (flow opt-in)
    idempotency: IdempotentRequest | None = None
    rerun_of: str | None = None


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker now holds, with what it needs to run it."""

    job: JobRecord
    document: dict[str, Any]
    running_in_space: int  # running jobs of the space right after this claim


@dataclass(frozen=True)
class ExpiredLease:
    job_id: str
    state: JobState
    attempts: int
    retry_on_loss: int


@dataclass(frozen=True)
class CancelCounts:
    canceled: int
    canceling: int


@dataclass(frozen=True)
class FinishedMinute:
    """Jobs of a space that ended in one minute (UTC), for the dashboard's charts."""

    minute: datetime  # the minute's start
    finished: int  # jobs that reached a final state
    failed: int  # of those, ended in ERROR
    ran: int  # of those, jobs that had started running (they have a duration)
    run_seconds: float  # summed durations (claimedAt to endedAt) of the ones that ran
    longest_seconds: float  # the longest of those durations


@dataclass(frozen=True)
class Heartbeat:
    """What a worker learns when it renews its leases."""

    canceling: list[str]  # jobs a user asked to cancel
    lost: list[str]  # jobs this worker no longer holds (reaped or ended elsewhere)


@dataclass(frozen=True)
class JobDetails:
    """A run's trace and log lines, saved while it runs and when it ends."""

    trace: dict[str, Any] | None
    logs: list[dict[str, Any]]
    logs_dropped: int = 0


@dataclass(frozen=True)
class JobEnding:
    """What a worker hands over when a job's flow has ended, to be written with
    the other endings of the moment in one transaction. A job still RUNNING and
    held by ``worker_id`` ends with ``status``; one found CANCELING (a cancel
    reached it first) ends CANCELED by the user, output and error untouched.
    ``status`` None: only a CANCELING job ends (the worker stopped it on a cancel)."""

    job_id: str
    worker_id: str
    status: Status | None
    output: list[Any] | None = None  # None: left as it is
    error: dict[str, Any] | None = None  # None: left as it is
    details: JobDetails | None = None  # the run's final trace and logs, if they changed
    progress: dict[str, int] | None = None  # None: left as it is


@dataclass(frozen=True)
class EndingsWritten:
    """What a batch of endings did: the status each moved job ended with, by
    id (jobs that did not move are absent), and the webhook events queued."""

    moved: dict[str, Status]
    deliveries: int


@dataclass(frozen=True)
class WorkerInfo:
    """A worker process's row in the registry. ``alive`` is derived by the
    manager: not stopped, and a heartbeat within three heartbeat intervals."""

    id: str
    host: str
    pid: int
    concurrency: int
    running: int
    started_at: datetime
    last_heartbeat_at: datetime
    stopped_at: datetime | None
    alive: bool = False


# ---- usage (issue 5) ---------------------------------------------------------------


def month_of(moment: datetime) -> str:
    """The calendar month (UTC) of a moment, as usage is keyed: ``"2026-11"``."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """First instant of ``"YYYY-MM"`` and of the month after it, in UTC."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    following = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return start, following


@dataclass(frozen=True)
class MonthUsage:
    """A space's execution seconds in one month. ``billed <= used``: seconds
    past the quota without pay-as-you-go are used but not billed."""

    used_seconds: float = 0.0
    billed_seconds: float = 0.0


@dataclass(frozen=True)
class UsageReport:
    """What ``GET /api/space/usage`` and ``flowjobs usage`` show for a month."""

    space: Space
    month: str
    usage: MonthUsage
    job_counts: dict[JobState, int]  # jobs created in the month, every state present

    @property
    def remaining_seconds(self) -> float | None:
        """Free seconds left this month; None when the quota is unlimited."""
        if self.space.quota_seconds is None:
            return None
        return max(0.0, self.space.quota_seconds - self.usage.used_seconds)


# ---- webhooks ----------------------------------------------------------------------


class WebhookEvent(enum.StrEnum):
    """What a webhook may subscribe to: one event per job that ends."""

    JOB_COMPLETED = "JOB.COMPLETED"
    JOB_ERROR = "JOB.ERROR"
    JOB_CANCELED = "JOB.CANCELED"


EVENT_OF_STATE = {
    JobState.COMPLETED: WebhookEvent.JOB_COMPLETED,
    JobState.ERROR: WebhookEvent.JOB_ERROR,
    JobState.CANCELED: WebhookEvent.JOB_CANCELED,
}
# The event type of a test delivery (POST /api/webhooks/{id}/test); never subscribed to.
TEST_EVENT = "WEBHOOK.TEST"


class DeliveryState(enum.StrEnum):
    PENDING = "PENDING"  # waiting for its next attempt (or being attempted)
    DELIVERED = "DELIVERED"  # final: the receiver answered 2xx
    FAILED = "FAILED"  # final: gave up (retry window over, or a test that failed)


@dataclass(frozen=True)
class Webhook:
    """A webhook of a space. ``base_ids`` is None when it covers every flow."""

    id: str
    space_id: str
    alias: str
    url: str
    enabled: bool
    description: str | None
    events: tuple[WebhookEvent, ...]
    base_ids: tuple[str, ...] | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WebhookAttempt:
    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one webhook (a row of the outbox) with its attempts."""

    id: str
    webhook_id: str
    space_id: str
    job_id: str | None
    event_type: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    last_status: int | None
    last_error: str | None
    attempt_log: tuple[WebhookAttempt, ...] = ()


@dataclass(frozen=True)
class DueDelivery:
    """A delivery a dispatcher has just leased, with what it needs to send it."""

    id: str
    webhook_id: str
    webhook_alias: str
    url: str
    secret_encrypted: str
    job_id: str | None
    event_type: str
    payload: Any  # the data of an event that is not about a job (a test)
    attempt: int  # the number of this attempt (1 for the first)
    retry_since: datetime  # start of the retry window (creation, or the last redeliver)
    space_id: str = ""  # the webhook's space (the dispatcher's share per space)


@dataclass(frozen=True)
class AttemptResult:
    """How one attempt went: a status code, or an error, and how long it took."""

    status_code: int | None
    latency_ms: float
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class JobFilter:
    """Which jobs of a space a listing shows; every field narrows it."""

    states: frozenset[JobState] = frozenset()  # empty: any state
    rule: str | None = None  # baseId or alias
    version: int | None = None
    since: datetime | None = None  # created_at >= since


@dataclass(frozen=True)
class JobPage:
    """One page of a listing, newest first."""

    jobs: list[JobRecord]
    next_cursor: str | None  # opaque; None on the last page


@dataclass(frozen=True)
class JobListQuery:
    """A listing as the store runs it: the filter resolved to columns, and the
    position after which the page starts (``created_at``, ``id``)."""

    space_id: str
    states: frozenset[JobState]
    base_id: str | None
    version: int | None
    since: datetime | None
    after: tuple[datetime, str] | None
    limit: int
    full: bool


@dataclass(frozen=True)
class JobStamp:
    """What changes when a job changes in a way a waiting client cares about."""

    state: JobState
    code: JobStatusCode
    updated_at: datetime
    progress: dict[str, int] | None


def stamp(job: JobRecord) -> JobStamp:
    return JobStamp(job.state, job.code, job.updated_at, job.progress)
