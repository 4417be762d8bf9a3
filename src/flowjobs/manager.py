"""JobManager: every job operation, for the API and for the worker.

The API and the worker call this; only this calls the store's job methods.
Each state change is one conditional update in the store, so that any race
(cancel against complete, two workers against one job) has one winner.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flowjobs import domain
from flowjobs.config import Settings
from flowjobs.domain import (
    RULE_TYPE_FLOW,
    ApiKey,
    CancelCounts,
    ClaimedJob,
    ExpiredLease,
    Heartbeat,
    JobDetails,
    JobRecord,
    JobState,
    NewJob,
    RuleStatus,
    RuleVersion,
    Space,
)
from flowjobs.errors import (
    ForbiddenError,
    InvalidVersionError,
    JobConflictError,
    JobNotFoundError,
    NotAnIntegrationFlowError,
    QuotaExceededError,
    RuleNotFoundError,
    RuleVersionNotFoundError,
    SpaceNotFoundError,
    UnauthorizedError,
)
from flowjobs.inputschema import InputSchemas
from flowjobs.keys import hash_secret
from flowjobs.store import SqlStore


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class LocalEvents:
    """Signals between the API and a worker in the same process, so that an
    embedded worker wakes at once instead of waiting for its next poll."""

    def __init__(self) -> None:
        self.job_waiting = asyncio.Event()
        self.cancel_requested = asyncio.Event()
        self.webhook_due = asyncio.Event()

    def notify_waiting(self) -> None:
        self.job_waiting.set()

    def notify_cancel(self) -> None:
        self.cancel_requested.set()

    def notify_webhook(self) -> None:
        """A job ended (its webhook events may be due) or a delivery was queued."""
        self.webhook_due.set()


def resolve_version(versions: list[RuleVersion], spec: str | None) -> RuleVersion:
    """The published version named by ``spec``: an integer, ``latest`` or None."""
    published = [v for v in versions if v.status is RuleStatus.PUBLISHED]
    if spec is None or spec == "latest":
        if not published:
            raise RuleVersionNotFoundError("The rule has no published version")
        return published[-1]
    number = parse_version(spec)
    for version in published:
        if version.version == number:
            return version
    raise RuleVersionNotFoundError(
        f"Version {number} of the rule does not exist or is not published"
    )


def parse_version(spec: str) -> int:
    if not (spec.isascii() and spec.isdigit()) or len(spec) > 9 or int(spec) < 1:
        raise InvalidVersionError(
            f"version must be a positive integer or 'latest', not {spec[:40]!r}"
        )
    return int(spec)


def output_array(output: Any) -> list[Any]:
    """Jobs answer their output as a JSON array (what live clients expect)."""
    return output if isinstance(output, list) else [output]


def execution_limit(settings: Settings, document: dict[str, Any]) -> float:
    """The deployment's limit, lowered by the flow's ``settings.timeoutSeconds``."""
    flow_settings = document.get("settings") or {}
    flow_limit = flow_settings.get("timeoutSeconds") if isinstance(flow_settings, dict) else None
    if isinstance(flow_limit, int | float) and flow_limit > 0:
        return min(float(flow_limit), settings.execution_limit_seconds)
    return settings.execution_limit_seconds


def retries_on_loss(document: dict[str, Any]) -> int:
    """``settings.retryOnWorkerLoss`` of a flow (validated at push), default 0."""
    flow_settings = document.get("settings") or {}
    retries = flow_settings.get("retryOnWorkerLoss", 0) if isinstance(flow_settings, dict) else 0
    return retries if isinstance(retries, int) and not isinstance(retries, bool) else 0


@dataclass(frozen=True)
class RuleCancelResult:
    rule: RuleVersion
    counts: CancelCounts


class JobManager:
    def __init__(self, store: SqlStore, settings: Settings, events: LocalEvents) -> None:
        self.store = store
        self.settings = settings
        self.events = events
        self.input_schemas = InputSchemas()  # compiled validators of rules' inputSchema

    # ---- API side --------------------------------------------------------------

    async def authenticate(self, secret: str) -> ApiKey:
        key = await self.store.find_key(hash_secret(secret))
        if key is None:
            raise UnauthorizedError()
        return key

    async def start(
        self,
        key: ApiKey,
        identifier: str,
        version: str | None,
        input_data: Any,
        *,
        correlation_id: str | None = None,
        priority: int | None = None,
    ) -> JobRecord:
        space = await self.store.find_space(key.space_id)
        if space is None:
            raise SpaceNotFoundError()
        await self._check_quota(space)
        rule = await self._find_flow(key.space_id, identifier, version)
        self.input_schemas.check(rule, input_data)  # 400 INVALID_INPUT, every mismatch
        new = NewJob(
            id=str(uuid.uuid4()),
            space=space,
            rule=rule,
            correlation_id=correlation_id or str(uuid.uuid4()),
            input=input_data,
            priority=space.priority if priority is None else priority,
            environment_group=self.settings.environment_group,
            api_key=key,
            execution_limit_s=execution_limit(self.settings, rule.document),
            retry_on_loss=retries_on_loss(rule.document),
        )
        job = await self.store.insert_job(new, utcnow(), domain.INITIALIZED)
        self.events.notify_waiting()
        return job

    async def _check_quota(self, space: Space) -> None:
        """Refuse new jobs once this month's usage reached the space's quota,
        unless pay-as-you-go is on. Jobs already started are not affected."""
        quota = space.quota_seconds
        if quota is None or space.pay_as_you_go:
            return  # no read at all: the common case costs nothing
        month = domain.month_of(utcnow())
        used = (await self.store.month_usage(space.id, month)).used_seconds
        if used >= quota:
            raise QuotaExceededError(
                f"The space has used {used:.1f} s of its {quota:g} free execution seconds "
                f"for {month} (UTC) and pay-as-you-go is off: jobs can start again next month, "
                "or once the quota is raised or pay-as-you-go turned on"
            )

    async def _find_flow(self, space_id: str, identifier: str, version: str | None) -> RuleVersion:
        versions = await self.store.find_rule_versions(space_id, identifier)
        if not versions:
            raise RuleNotFoundError(f"No rule with id or alias {identifier[:100]!r} in this space")
        if versions[0].type != RULE_TYPE_FLOW:
            raise NotAnIntegrationFlowError(
                f"Rule {identifier[:100]!r} is a {versions[0].type}; "
                "only integration flows can be started as jobs"
            )
        return resolve_version(versions, version)

    async def flow_for_call(
        self, space_id: str, identifier: str, version: int | None
    ) -> RuleVersion:
        """The published flow a ``call`` node names, in the calling job's space."""
        return await self._find_flow(
            space_id, identifier, None if version is None else str(version)
        )

    async def details(self, key: ApiKey, job_id: str) -> JobDetails:
        """A job's trace and log lines (empty until its worker first saves them)."""
        await self.info(key, job_id)  # 404 for jobs of other spaces
        found = await self.store.get_details(job_id)
        return found or JobDetails(trace=None, logs=[])

    async def save_details(
        self, job_id: str, details: JobDetails, progress: dict[str, int] | None
    ) -> None:
        await self.store.save_details(job_id, details, progress, utcnow())

    async def info(self, key: ApiKey, job_id: str) -> JobRecord:
        job = await self.store.get_job(job_id, key.space_id) if is_uuid(job_id) else None
        if job is None:
            raise JobNotFoundError()
        return job

    async def cancel(self, key: ApiKey, job_id: str) -> JobRecord:
        for _ in range(3):  # a job re-queued between our updates is tried again
            job = await self._try_cancel(key, job_id)
            if job is not None:
                return job
        return await self.info(key, job_id)

    async def _try_cancel(self, key: ApiKey, job_id: str) -> JobRecord | None:
        now = utcnow()
        if not is_uuid(job_id):
            raise JobNotFoundError()
        if await self.store.transition(
            job_id, [JobState.WAITING], domain.USER_CANCELED, now, space_id=key.space_id
        ):
            self.events.notify_webhook()
            return await self.info(key, job_id)
        if await self.store.transition(
            job_id, [JobState.RUNNING], domain.CANCELING, now, space_id=key.space_id
        ):
            self.events.notify_cancel()
            return await self.info(key, job_id)
        job = await self.info(key, job_id)
        if job.state in (JobState.CANCELING, JobState.CANCELED):
            return job
        if job.state in (JobState.COMPLETED, JobState.ERROR):
            raise JobConflictError(f"The job is {job.state.value} and can no longer be canceled")
        return None

    async def cancel_all_in_space(
        self, key: ApiKey, space_id: str, *, include_running: bool
    ) -> CancelCounts:
        if space_id != key.space_id:
            raise ForbiddenError("This API key does not belong to that space")
        return await self._cancel_many({"space_id": space_id}, include_running)

    async def cancel_all_of_rule(
        self, key: ApiKey, identifier: str, version: str, *, include_running: bool
    ) -> RuleCancelResult:
        versions = await self.store.find_rule_versions(key.space_id, identifier)
        if not versions:
            raise RuleNotFoundError(f"No rule with id or alias {identifier[:100]!r} in this space")
        rule = self._pick_any_version(versions, version)
        counts = await self._cancel_many(
            {"space_id": key.space_id, "base_id": rule.base_id, "version": rule.version},
            include_running,
        )
        return RuleCancelResult(rule, counts)

    @staticmethod
    def _pick_any_version(versions: list[RuleVersion], spec: str) -> RuleVersion:
        # Jobs may exist for a version that is no longer published: any version counts.
        if spec == "latest":
            return resolve_version(versions, spec)
        number = parse_version(spec)
        for version in versions:
            if version.version == number:
                return version
        raise RuleVersionNotFoundError(f"Version {number} of the rule does not exist")

    async def _cancel_many(self, filters: dict[str, Any], include_running: bool) -> CancelCounts:
        counts = await self.store.cancel_many(
            filters,
            utcnow(),
            canceled=domain.USER_CANCELED,
            canceling=domain.CANCELING if include_running else None,
        )
        if counts.canceling:
            self.events.notify_cancel()
        if counts.canceled:
            self.events.notify_webhook()
        return counts

    # ---- worker side -------------------------------------------------------------

    async def claim(self, worker_id: str, limit: int) -> list[ClaimedJob]:
        return await self.store.claim(
            worker_id, limit, utcnow, self.settings.lease_seconds, domain.RUNNING
        )

    async def heartbeat(self, worker_id: str, job_ids: list[str]) -> Heartbeat:
        return await self.store.heartbeat(worker_id, job_ids, utcnow(), self.settings.lease_seconds)

    async def listen(self) -> None:
        """Wake this process's worker on other processes' starts, ends, cancels
        and webhook deliveries (PostgreSQL LISTEN/NOTIFY); a no-op on SQLite."""
        await self.store.listen(
            self.events.notify_waiting, self.events.notify_cancel, self.events.notify_webhook
        )

    async def canceling_jobs(self, worker_id: str) -> list[str]:
        return await self.store.canceling_jobs(worker_id)

    async def complete(self, job_id: str, worker_id: str, output: Any) -> JobState:
        if await self.store.transition(
            job_id,
            [JobState.RUNNING],
            domain.COMPLETED,
            utcnow(),
            worker_id=worker_id,
            output=output_array(output),
        ):
            return JobState.COMPLETED
        return await self.mark_canceled(job_id, worker_id)

    async def fail(
        self, job_id: str, worker_id: str, status: domain.Status, error: dict[str, Any]
    ) -> JobState:
        if await self.store.transition(
            job_id, [JobState.RUNNING], status, utcnow(), worker_id=worker_id, error=error
        ):
            return status.state
        return await self.mark_canceled(job_id, worker_id)

    async def mark_canceled(self, job_id: str, worker_id: str) -> JobState:
        """A job asked to cancel has stopped: CANCELING becomes CANCELED."""
        moved = await self.store.transition(
            job_id, [JobState.CANCELING], domain.USER_CANCELED, utcnow(), worker_id=worker_id
        )
        return JobState.CANCELED if moved else JobState.ERROR

    async def release(self, job_id: str, worker_id: str, reason: str) -> None:
        """Give up a job on shutdown: it ends CANCELED, saying why."""
        now = utcnow()
        if not await self.store.transition(
            job_id, [JobState.RUNNING], domain.system_canceled(reason), now, worker_id=worker_id
        ):
            await self.mark_canceled(job_id, worker_id)

    async def _end_lost(self, lease: ExpiredLease, now: datetime) -> bool:
        """A job whose worker died: re-queued if its flow opted in and has
        retries left, else ERROR / ZOMBIE_PROCESS (CANCELING ones: CANCELED)."""
        if lease.state is JobState.CANCELING:
            return await self.store.reap(lease.job_id, lease.state, domain.USER_CANCELED, now)
        if lease.attempts <= lease.retry_on_loss:
            return await self.store.requeue(lease.job_id, domain.REQUEUED, now)
        error = domain.error_detail(domain.ZOMBIE)
        return await self.store.reap(lease.job_id, lease.state, domain.ZOMBIE, now, error)

    async def reap(self) -> int:
        """End jobs whose worker stopped renewing its lease, and jobs past their
        deadline whose worker did not stop them. Any live process may run this."""
        now = utcnow()
        reaped = 0
        for lease in await self.store.expired_leases(now):
            reaped += await self._end_lost(lease, now)
        # Give a live worker's own timeout a lease period to act first.
        late = now - timedelta(seconds=self.settings.lease_seconds)
        for job_id, limit in await self.store.past_deadline(late):
            status = domain.timed_out(limit)
            reaped += await self.store.transition(
                job_id, [JobState.RUNNING], status, now, error=domain.error_detail(status)
            )
        return reaped

    # ---- worker registry and retention ---------------------------------------------

    WORKER_ROWS_KEPT = timedelta(days=1)  # rows of stopped or silent workers

    async def register_worker(self, worker_id: str, host: str, pid: int, concurrency: int) -> None:
        await self.store.register_worker(worker_id, host, pid, concurrency, utcnow())

    async def worker_heartbeat(self, worker_id: str, running: int) -> bool:
        """Renew a worker's registry row; False if the row is gone (register again)."""
        return await self.store.worker_heartbeat(worker_id, running, utcnow())

    async def worker_stopped(self, worker_id: str) -> None:
        await self.store.worker_stopped(worker_id, utcnow())

    async def list_workers(self, *, include_dead: bool = False) -> list[domain.WorkerInfo]:
        """Registered workers with ``alive`` set: not stopped, and a heartbeat
        within three heartbeat intervals. Only live ones unless ``include_dead``."""
        silent_since = utcnow() - timedelta(seconds=3 * self.settings.heartbeat_interval)
        found = [
            replace(w, alive=w.stopped_at is None and w.last_heartbeat_at >= silent_since)
            for w in await self.store.list_workers()
        ]
        return found if include_dead else [w for w in found if w.alive]

    async def prune_workers(self) -> int:
        """Forget workers stopped, or silent, for more than a day."""
        return await self.store.prune_workers(utcnow() - self.WORKER_ROWS_KEPT)

    async def prune(self, older_than: timedelta, *, batch_size: int = 5000) -> int:
        """Delete finished jobs (and their details) that ended more than
        ``older_than`` ago; the number deleted."""
        return await self.store.prune_finished(utcnow() - older_than, batch_size)
