"""The domain: job states and the status table, and the records every part
passes around (jobs, spaces and keys, rules, webhooks, workers, usage). Pure:
no I/O, nothing of flowjobs outside this package.

One module per concern; every public name is re-exported here, so
``from flowjobs.domain import JobRecord`` and ``domain.COMPLETED`` work as before.
"""

from __future__ import annotations

from flowjobs.domain.jobs import (
    CancelCounts,
    ClaimedJob,
    EndedJob,
    EndingsWritten,
    ExpiredLease,
    Heartbeat,
    IdempotentRequest,
    JobDetails,
    JobEnding,
    JobRecord,
    NewJob,
    output_array,
)
from flowjobs.domain.listing import (
    FinishedMinute,
    JobFilter,
    JobListQuery,
    JobPage,
    JobStamp,
    stamp,
)
from flowjobs.domain.rules import (
    RULE_TYPE_COMPOSITION,
    RULE_TYPE_FLOW,
    RULE_TYPE_TABLE,
    RuleStatus,
    RuleVersion,
)
from flowjobs.domain.spaces import (
    ApiKey,
    KeyKind,
    KeyListing,
    Space,
)
from flowjobs.domain.states import (
    ACTIVE_STATES,
    CANCELING,
    COMPLETED,
    FINAL_STATES,
    INITIALIZED,
    REQUEUED,
    RUNNING,
    USER_CANCELED,
    ZOMBIE,
    JobState,
    JobStatusCode,
    Status,
    error_detail,
    execution_error,
    internal_error,
    system_canceled,
    timed_out,
    validation_error,
)
from flowjobs.domain.usage import (
    MonthUsage,
    UsageReport,
    month_bounds,
    month_of,
)
from flowjobs.domain.webhooks import (
    EVENT_OF_STATE,
    TEST_EVENT,
    AttemptResult,
    DeliveryState,
    DueDelivery,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
)
from flowjobs.domain.workers import (
    WorkerInfo,
)

__all__ = [
    "ACTIVE_STATES",
    "CANCELING",
    "COMPLETED",
    "EVENT_OF_STATE",
    "FINAL_STATES",
    "INITIALIZED",
    "REQUEUED",
    "RULE_TYPE_COMPOSITION",
    "RULE_TYPE_FLOW",
    "RULE_TYPE_TABLE",
    "RUNNING",
    "TEST_EVENT",
    "USER_CANCELED",
    "ZOMBIE",
    "ApiKey",
    "AttemptResult",
    "CancelCounts",
    "ClaimedJob",
    "DeliveryState",
    "DueDelivery",
    "EndedJob",
    "EndingsWritten",
    "ExpiredLease",
    "FinishedMinute",
    "Heartbeat",
    "IdempotentRequest",
    "JobDetails",
    "JobEnding",
    "JobFilter",
    "JobListQuery",
    "JobPage",
    "JobRecord",
    "JobStamp",
    "JobState",
    "JobStatusCode",
    "KeyKind",
    "KeyListing",
    "MonthUsage",
    "NewJob",
    "RuleStatus",
    "RuleVersion",
    "Space",
    "Status",
    "UsageReport",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEvent",
    "WorkerInfo",
    "error_detail",
    "execution_error",
    "internal_error",
    "month_bounds",
    "month_of",
    "output_array",
    "stamp",
    "system_canceled",
    "timed_out",
    "validation_error",
]
