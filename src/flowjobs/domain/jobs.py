"""Records of jobs: as stored, as queued, as claimed, and as a worker ends them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowjobs.domain.rules import RuleVersion
from flowjobs.domain.spaces import ApiKey, Space
from flowjobs.domain.states import JobState, JobStatusCode, Status


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
class EndedJob:
    """A job that has just reached a final state, as the store hands it to
    what must happen in the same transaction (webhook events, usage)."""

    id: str
    space_id: str
    base_id: str
    state: JobState
    claimed_at: datetime | None  # None: it never ran
    ended_at: datetime
