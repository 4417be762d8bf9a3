"""Job states, status codes and the status table (what a job says in each state).

Pure: no I/O. The state machine (see docs/api.md for the drawing)::

    WAITING ──claim──▶ RUNNING ──flow returns──▶ COMPLETED
       │                  ├──flow fails / timeout / lease lost──▶ ERROR
       │                  ├──lease lost, retries left──▶ WAITING (REQUEUED)
       │                  ├──shutdown past the grace period──▶ CANCELED (system)
       │                  └──cancel──▶ CANCELING ──stopped, or lease lost──▶ CANCELED
       └──cancel──▶ CANCELED

``REQUEUED`` (WAITING / JOB_WAITING) is the status of a job put back in the
queue by the reaper after its worker was lost, when its flow opted in
(``settings.retryOnWorkerLoss``) and has retries left.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
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
