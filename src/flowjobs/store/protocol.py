"""What the services ask of the store: the methods the manager (and through
it the worker and the watcher), the catalog, the rules, the solver and usage
call. :class:`flowjobs.store.sql.SqlStore` is the one implementation (mypy
checks that it keeps this protocol, see store/sql.py); another, an in-memory
store for unit tests say, needs only these."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from flowjobs.domain import (
    ApiKey,
    CancelCounts,
    ClaimedJob,
    EndingsWritten,
    ExpiredLease,
    FinishedMinute,
    Heartbeat,
    JobDetails,
    JobEnding,
    JobListQuery,
    JobRecord,
    JobStamp,
    JobState,
    KeyListing,
    MonthUsage,
    NewJob,
    RuleStatus,
    RuleVersion,
    Space,
    Status,
    WorkerInfo,
)
from flowjobs.store.audits import SolveAudit


class CatalogRows(Protocol):
    """Spaces, keys and rules (the catalog, the rules service, the solver)."""

    @property
    def catalog_generation(self) -> int:
        """Bumped by every write of spaces, keys or rules in this process."""
        ...

    async def insert_space(self, space: Space, now: datetime) -> None: ...
    async def find_space(self, id_or_name: str) -> Space | None: ...
    async def list_spaces(self) -> list[Space]: ...
    async def update_space_billing(
        self, space_id: str, quota_seconds: float | None, pay_as_you_go: bool
    ) -> None: ...
    async def insert_key(self, key: ApiKey, key_hash: str, now: datetime) -> None: ...
    async def find_key(self, key_hash: str) -> ApiKey | None: ...
    async def find_key_by_id(self, key_id: str) -> ApiKey | None: ...
    async def list_keys(self, space_id: str) -> list[KeyListing]: ...
    async def revoke_key(self, key_id: str, now: datetime) -> bool: ...
    async def find_rule_versions(self, space_id: str, identifier: str) -> list[RuleVersion]: ...
    async def list_rule_versions(self, space_id: str) -> list[RuleVersion]: ...
    async def insert_rule_version(
        self, rule: RuleVersion, now: datetime, *, new_rule: bool
    ) -> None: ...
    async def set_rule_status(
        self, base_id: str, version: int, status: RuleStatus, now: datetime
    ) -> bool: ...
    async def insert_next_version(self, rule: RuleVersion, now: datetime) -> int | None: ...
    async def update_rule_version(
        self, rule: RuleVersion, now: datetime, *, latest: bool
    ) -> bool: ...
    async def delete_rule_versions(self, base_id: str, versions: list[int]) -> tuple[int, int]: ...


class JobRows(Protocol):
    """Jobs from the API's side (the manager)."""

    async def insert_job(
        self,
        new: NewJob,
        now: datetime,
        status: Status,
        *,
        keys_expire_before: datetime | None = None,
    ) -> JobRecord: ...
    async def transition(
        self,
        job_id: str,
        expect: Iterable[JobState],
        status: Status,
        now: datetime,
        *,
        space_id: str | None = None,
        worker_id: str | None = None,
        output: Any = ...,
        error: dict[str, Any] | None = None,
    ) -> bool: ...
    async def request_cancel(
        self, job_id: str, space_id: str, status: Status, now: datetime
    ) -> JobRecord | None: ...
    async def cancel_many(
        self,
        filters: Mapping[str, Any],
        now: datetime,
        *,
        canceled: Status,
        canceling: Status | None,
    ) -> CancelCounts: ...
    async def get_job(self, job_id: str, space_id: str | None = None) -> JobRecord | None: ...
    async def get_jobs(self, job_ids: Sequence[str]) -> list[JobRecord]: ...
    async def job_stamps(self, job_ids: Sequence[str]) -> dict[str, JobStamp]: ...
    async def find_idempotent(
        self, space_id: str, key: str, since: datetime
    ) -> tuple[JobRecord, str] | None: ...
    async def list_jobs(self, query: JobListQuery) -> list[JobRecord]: ...
    async def get_details(self, job_id: str) -> JobDetails | None: ...
    async def count_waiting(self, space_id: str) -> int: ...
    async def job_counts(self, space_id: str) -> dict[JobState, int]: ...
    async def queue_depths(self) -> list[tuple[str, JobState | None, int]]: ...
    async def finished_per_minute(self, space_id: str, since: datetime) -> list[FinishedMinute]: ...
    async def prune_finished(self, before: datetime, batch_size: int = 5000) -> int: ...
    async def listen_job_changes(self, on_change: Callable[[str], None]) -> None: ...


class WorkerRows(Protocol):
    """Jobs from the worker's side, through the manager: claims, leases,
    ends, and the worker registry."""

    @property
    def url(self) -> str:
        """The database's URL (a thread that renews leases opens its own connection)."""
        ...

    async def claim(
        self,
        worker_id: str,
        limit: int,
        clock: Callable[[], datetime],
        lease_s: float,
        status: Status,
        *,
        durable: bool = True,
    ) -> list[ClaimedJob]: ...
    async def heartbeat(
        self, worker_id: str, job_ids: list[str], now: datetime, lease_s: float
    ) -> Heartbeat: ...
    async def canceling_jobs(self, worker_id: str) -> list[str]: ...
    async def expired_leases(self, now: datetime) -> list[ExpiredLease]: ...
    async def requeue(self, job_id: str, status: Status, now: datetime) -> bool: ...
    async def past_deadline(self, now: datetime) -> list[tuple[str, float]]: ...
    async def reap(
        self,
        job_id: str,
        expect: JobState,
        status: Status,
        now: datetime,
        error: dict[str, Any] | None = None,
    ) -> bool: ...
    async def save_details(
        self,
        job_id: str,
        details: JobDetails,
        progress: dict[str, int] | None,
        now: datetime,
    ) -> None: ...
    async def end_jobs(
        self, endings: Sequence[JobEnding], now: datetime, canceled: Status
    ) -> EndingsWritten: ...
    async def register_worker(
        self, worker_id: str, host: str, pid: int, concurrency: int, now: datetime
    ) -> None: ...
    async def worker_heartbeat(self, worker_id: str, running: int, now: datetime) -> bool: ...
    async def worker_stopped(self, worker_id: str, now: datetime) -> None: ...
    async def list_workers(self) -> list[WorkerInfo]: ...
    async def prune_workers(self, before: datetime) -> int: ...
    async def listen(
        self,
        on_waiting: Callable[[], None],
        on_cancel: Callable[[list[str] | None], None],
        on_webhook: Callable[[], None] | None = None,
    ) -> None: ...


class UsageRows(Protocol):
    """A space's usage (the usage report, the manager's quota check)."""

    async def month_usage(self, space_id: str, month: str) -> MonthUsage: ...
    async def month_job_counts(
        self, space_id: str, created_from: datetime, created_before: datetime
    ) -> dict[JobState, int]: ...


class AuditRows(Protocol):
    """The Solver API's audits (the solver)."""

    async def insert_audit(self, audit: SolveAudit) -> None: ...
    async def get_audit(self, audit_id: str, space_id: str, now: datetime) -> SolveAudit | None: ...
    async def prune_audits(self, now: datetime) -> int: ...


class Store(CatalogRows, JobRows, WorkerRows, UsageRows, AuditRows, Protocol):
    """Everything the services call on the store."""
