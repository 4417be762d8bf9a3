"""JobManager: every job operation, for the API and for the worker.

The API and the worker call this; only this calls the store's job methods.
Each state change is one conditional update in the store, so that any race
(cancel against complete, two workers against one job) has one winner.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowjobs import domain
from flowjobs.clock import utcnow
from flowjobs.config import Settings
from flowjobs.cursor import decode_cursor, encode_cursor
from flowjobs.domain import (
    FINAL_STATES,
    RULE_TYPE_FLOW,
    ApiKey,
    CancelCounts,
    ClaimedJob,
    ExpiredLease,
    Heartbeat,
    IdempotentRequest,
    JobDetails,
    JobEnding,
    JobFilter,
    JobListQuery,
    JobPage,
    JobRecord,
    JobState,
    NewJob,
    RuleVersion,
    Space,
    Status,
)
from flowjobs.errors import (
    AlreadyExistsError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    JobConflictError,
    JobNotFoundError,
    NotAnIntegrationFlowError,
    QuotaExceededError,
    RuleNotFoundError,
    RuleVersionNotFoundError,
    SpaceNotFoundError,
    TooManyWaitingJobsError,
)
from flowjobs.events import LocalEvents
from flowjobs.flowsettings import execution_limit, retries_on_loss
from flowjobs.idempotency import idempotent_request
from flowjobs.ids import is_uuid, new_job_id
from flowjobs.inputschema import InputSchemas
from flowjobs.jsoncheck import require_storable
from flowjobs.leases import LeaseRenewer
from flowjobs.metrics import Metrics, QueueRow
from flowjobs.registry import WorkerRegistry
from flowjobs.store import SqlStore
from flowjobs.ttlcache import TtlCache
from flowjobs.versions import parse_version, resolve_version
from flowjobs.watch import JobWatcher

MAX_PAGE = 200  # jobs in one page of a listing
# The highest rule version: versions are 32-bit integers in the database
# (PostgreSQL's integer), so a filter past it would fail the statement.
MAX_VERSION = 2**31 - 1
RERUNNABLE = frozenset({JobState.ERROR, JobState.CANCELED})


@dataclass(frozen=True)
class RuleCancelResult:
    rule: RuleVersion
    counts: CancelCounts


class JobManager:
    def __init__(
        self,
        store: SqlStore,
        settings: Settings,
        events: LocalEvents,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.events = events
        self.input_schemas = InputSchemas()  # compiled validators of rules' inputSchema
        self.metrics = metrics or Metrics()
        self.workers = WorkerRegistry(store, settings)  # rows for `flowjobs workers`

        def generation() -> int:
            return store.catalog_generation

        self._catalog = TtlCache(settings.catalog_cache_seconds, generation)
        self.watcher = JobWatcher(
            store.job_stamps,
            store.get_jobs,
            interval=settings.watch_poll_interval,
            capacity=settings.max_waiters,
            per_space=settings.max_waiters_per_space,
            per_key=settings.max_waiters_per_key,
        )

    # ---- API side --------------------------------------------------------------

    async def start(
        self,
        key: ApiKey,
        identifier: str,
        version: str | None,
        input_data: Any,
        *,
        correlation_id: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
    ) -> JobRecord:
        space: Space | None = await self._catalog.lookup(
            ("space", key.space_id), lambda: self.store.find_space(key.space_id)
        )
        if space is None:
            raise SpaceNotFoundError()
        # The API has parsed the input with the same check; the dashboard has
        # not: every start passes here, so nothing unstorable is ever queued.
        self.check_input(input_data)
        for header, text in (
            ("X-Correlation-Id", correlation_id),
            ("Idempotency-Key", idempotency_key),
        ):
            if text is not None:  # a NUL would fail the insert on PostgreSQL only
                require_storable(text, max_depth=1, what=header)
        rule = await self._find_flow(key.space_id, identifier, version)
        request = idempotent_request(idempotency_key, rule, version, input_data)
        if request is not None and (original := await self._replay(space.id, request)):
            return original  # a retried start gets its job even over quota
        self.input_schemas.check(rule, input_data)  # 400 INVALID_INPUT, every mismatch
        new = NewJob(
            id=new_job_id(),
            space=space,
            rule=rule,
            correlation_id=correlation_id or str(uuid.uuid4()),
            input=input_data,
            priority=space.priority if priority is None else priority,
            environment_group=self.settings.environment_group,
            api_key=key,
            execution_limit_s=execution_limit(self.settings, rule.document),
            retry_on_loss=retries_on_loss(rule.document),
            idempotency=request,
        )
        return await self._enqueue(new)

    def check_input(self, input_data: Any) -> None:
        """400 for a job input that cannot be stored and served back on
        either database: too deep, a NUL, a lone surrogate (jsoncheck.py)."""
        require_storable(input_data, max_depth=self.settings.max_json_depth, what="The input")

    async def _enqueue(self, new: NewJob) -> JobRecord:
        await self._check_quota(new.space)  # starts and reruns alike
        await self._check_waiting_cap(new.space)
        now = utcnow()
        expired = now - timedelta(hours=self.settings.idempotency_ttl_hours)
        try:
            job = await self.store.insert_job(
                new, now, domain.INITIALIZED, keys_expire_before=expired
            )
        except AlreadyExistsError:
            if new.idempotency is None:
                raise
            # A start with the same key committed first: answer its job.
            original = await self._replay(new.space.id, new.idempotency)
            if original is None:
                raise
            return original
        self.events.notify_waiting()
        self.metrics.jobs_started.inc()
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

    async def _check_waiting_cap(self, space: Space) -> None:
        """Refuse a start while the space already has the configured number of
        WAITING jobs. Unset (the default), it reads nothing. Concurrent starts
        may overshoot the cap by their number: it bounds a flood, not a count."""
        cap = self.settings.max_waiting_jobs_per_space
        if cap is None:
            return
        waiting = await self.store.count_waiting(space.id)
        if waiting >= cap:
            raise TooManyWaitingJobsError(
                f"The space has {waiting} waiting jobs, the most allowed "
                f"(FLOWJOBS_MAX_WAITING_JOBS_PER_SPACE={cap}); retry once some have run"
            )

    async def _replay(self, space_id: str, request: IdempotentRequest) -> JobRecord | None:
        """The job a start with this key created within its time to live;
        422 if that start asked for something else."""
        since = utcnow() - timedelta(hours=self.settings.idempotency_ttl_hours)
        found = await self.store.find_idempotent(space_id, request.key, since)
        if found is None:
            return None
        job, request_hash = found
        if request_hash != request.request_hash:
            raise IdempotencyKeyReusedError(
                "This Idempotency-Key was used for a different start (rule, version or "
                "body) within the last "
                f"{self.settings.idempotency_ttl_hours:g} h; use a new key for a new job"
            )
        return job

    async def rerun(
        self, key: ApiKey, job_id: str, *, correlation_id: str | None = None
    ) -> JobRecord:
        """A new job with the same rule version, input and priority as a job
        that ended in ERROR or CANCELED; its ``rerun_of`` names that job."""
        if correlation_id is not None:
            require_storable(correlation_id, max_depth=1, what="X-Correlation-Id")
        original = await self.info(key, job_id)
        if original.state not in RERUNNABLE:
            raise JobConflictError(
                f"The job is {original.state.value}; only ERROR and CANCELED jobs can be re-run"
            )
        self.check_input(original.input)  # stored before these checks existed
        space = await self.store.find_space(key.space_id)
        if space is None:
            raise SpaceNotFoundError()
        rule = await self._version_of(original)
        return await self._enqueue(self._rerun_job(original, space, rule, key, correlation_id))

    def _rerun_job(
        self,
        original: JobRecord,
        space: Space,
        rule: RuleVersion,
        key: ApiKey,
        correlation_id: str | None,
    ) -> NewJob:
        return NewJob(
            id=new_job_id(),
            space=space,
            rule=rule,
            correlation_id=correlation_id or str(uuid.uuid4()),
            input=original.input,
            priority=original.priority,
            environment_group=self.settings.environment_group,
            api_key=key,
            execution_limit_s=execution_limit(self.settings, rule.document),
            retry_on_loss=retries_on_loss(rule.document),
            rerun_of=original.id,
        )

    async def _version_of(self, job: JobRecord) -> RuleVersion:
        """The rule version a job ran, published or not, while it exists."""
        versions = await self.store.find_rule_versions(job.space_id, job.base_id)
        for version in versions:
            if version.version == job.version:
                return version
        raise RuleVersionNotFoundError(f"Version {job.version} of the job's rule no longer exists")

    # ---- listing, waiting, counts ------------------------------------------------

    async def list_jobs(
        self,
        space_id: str,
        filters: JobFilter,
        *,
        limit: int = 50,
        cursor: str | None = None,
        full: bool = False,
    ) -> JobPage:
        """A page of the space's jobs, newest first; ``next_cursor`` continues
        after its last job (keyset: jobs started meanwhile never shift pages).
        Without ``full``, jobs come without input and output."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequestError(f"limit must be between 1 and {MAX_PAGE}")
        if filters.version is not None and not 1 <= filters.version <= MAX_VERSION:
            raise InvalidRequestError(f"version must be between 1 and {MAX_VERSION}")
        query = JobListQuery(
            space_id=space_id,
            states=filters.states,
            base_id=await self._rule_filter(space_id, filters),
            version=filters.version,
            since=filters.since,
            after=None if cursor is None else decode_cursor(cursor),
            limit=limit + 1,  # one more tells whether another page follows
            full=full,
        )
        found = await self.store.list_jobs(query)
        page = found[:limit]
        return JobPage(page, encode_cursor(page[-1]) if len(found) > limit else None)

    async def _rule_filter(self, space_id: str, filters: JobFilter) -> str | None:
        """The baseId that ``filters.rule`` names in the space. A UUID that
        names no rule is taken as the baseId of a deleted rule."""
        if filters.rule is None:
            if filters.version is not None:
                raise InvalidRequestError("version filters the jobs of a rule: give rule too")
            return None
        versions = await self.store.find_rule_versions(space_id, filters.rule)
        if versions:
            return versions[0].base_id
        if is_uuid(filters.rule):
            return filters.rule
        raise RuleNotFoundError(f"No rule with id or alias {filters.rule[:100]!r} in this space")

    async def job_counts(self, space_id: str) -> dict[JobState, int]:
        """Jobs of the space per state (every state, zeros included)."""
        counts = await self.store.job_counts(space_id)
        return {state: counts.get(state, 0) for state in JobState}

    async def queue_depths(self) -> list[QueueRow]:
        """Waiting and active jobs per space name and state (for /metrics)."""
        return await self.store.queue_depths()

    async def wait_for_end(self, key: ApiKey, job_id: str, timeout: float) -> JobRecord:
        """The job once it is final, or as it is after ``timeout`` seconds."""
        job = await self.info(key, job_id)
        if job.state in FINAL_STATES or timeout <= 0:
            return job
        with self.watcher.subscribe(job, key.id) as subscription:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    while subscription.job.state not in FINAL_STATES:
                        await subscription.next()
            return subscription.job

    async def job_changes(self, key: ApiKey, job_id: str) -> AsyncGenerator[JobRecord, None]:
        """The job now, then again at each change of state or progress, until
        it is final (versions in between may be skipped)."""
        job = await self.info(key, job_id)
        if job.state in FINAL_STATES:
            yield job
            return
        with self.watcher.subscribe(job, key.id) as subscription:
            yield job
            while subscription.job.state not in FINAL_STATES:
                yield await subscription.next()

    async def watch(self) -> None:
        """Keep waiting requests informed until cancelled: the watcher's loop
        and, on PostgreSQL, its LISTEN for other processes' changes."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.watcher.run())
            tasks.create_task(self.store.listen_job_changes(self.watcher.notified))

    def _moved(self, job_id: str | None, status: Status, count: int = 1) -> None:
        """After jobs changed state here: wake their waiters, count endings."""
        self.watcher.changed(job_id)
        if status.state in FINAL_STATES:
            self.metrics.finished(status, count)

    async def _find_flow(self, space_id: str, identifier: str, version: str | None) -> RuleVersion:
        versions: list[RuleVersion] = await self._catalog.lookup(
            ("rule", space_id, identifier),
            lambda: self.store.find_rule_versions(space_id, identifier),
        )
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
        if progress is not None:
            self.watcher.changed(job_id)

    async def info(self, key: ApiKey, job_id: str) -> JobRecord:
        job = await self.store.get_job(job_id, key.space_id) if is_uuid(job_id) else None
        if job is None:
            raise JobNotFoundError()
        return job

    async def find_job(self, job_id: str) -> JobRecord | None:
        """A job of any space, or None: for services that act for no key (the
        webhook deliverer reads the job an event is about)."""
        return await self.store.get_job(job_id)

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
        # A running job first: one round trip that also returns the job and
        # tells its worker (by id) on PostgreSQL.
        canceling = await self.store.request_cancel(job_id, key.space_id, domain.CANCELING, now)
        if canceling is not None:
            self._moved(job_id, domain.CANCELING)
            self.events.notify_cancel([job_id])
            return canceling
        if await self.store.transition(
            job_id, [JobState.WAITING], domain.USER_CANCELED, now, space_id=key.space_id
        ):
            self.events.notify_webhook()
            self._moved(job_id, domain.USER_CANCELED)
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
        if counts.canceled or counts.canceling:
            self._moved(None, domain.USER_CANCELED, counts.canceled)
        return counts

    async def finished_per_minute(
        self, space_id: str, *, hours: float = 24
    ) -> list[domain.FinishedMinute]:
        """Jobs of the space that ended in the last ``hours``, per minute."""
        return await self.store.finished_per_minute(space_id, utcnow() - timedelta(hours=hours))

    # ---- worker side -------------------------------------------------------------

    async def claim(self, worker_id: str, limit: int) -> list[ClaimedJob]:
        claimed = await self.store.claim(
            worker_id,
            limit,
            utcnow,
            self.settings.lease_seconds,
            domain.RUNNING,
            durable=self.settings.claim_synchronous_commit,
        )
        for item in claimed:
            self._moved(item.job.id, domain.RUNNING)
            if item.job.claimed_at is not None:
                waited = item.job.claimed_at - item.job.created_at
                self.metrics.dispatch_latency.observe(max(waited.total_seconds(), 0.0))
        self.metrics.claims.inc(len(claimed))
        return claimed

    async def heartbeat(self, worker_id: str, job_ids: list[str]) -> Heartbeat:
        return await self.store.heartbeat(worker_id, job_ids, utcnow(), self.settings.lease_seconds)

    def lease_renewer(self) -> LeaseRenewer:
        """Heartbeats on a database connection of their own, for the worker's
        lease thread (worker/heartbeats.py); build and use it in that thread."""
        return LeaseRenewer(self.store.url, self.settings.lease_seconds)

    async def listen(self) -> None:
        """Wake this process's worker on other processes' starts, ends, cancels
        and webhook deliveries (PostgreSQL LISTEN/NOTIFY); a no-op on SQLite."""
        await self.store.listen(
            self.events.notify_waiting, self.events.notify_cancel, self.events.notify_webhook
        )

    async def canceling_jobs(self, worker_id: str) -> list[str]:
        return await self.store.canceling_jobs(worker_id)

    async def end_jobs(self, endings: Sequence[JobEnding]) -> list[JobState | None]:
        """Write many jobs' endings in one transaction: the one path by which a
        worker ends its jobs (completed, failed, canceled on request or at
        shutdown; ``JobEnding`` says how each moves). Per ending, in order: the
        state its job ended in, or None when its worker no longer held it (its
        lease ran out and the reaper ended it)."""
        written = await self.store.end_jobs(endings, utcnow(), domain.USER_CANCELED)
        if written.deliveries:
            self.events.notify_webhook()  # wake this process's dispatcher at once
        states: list[JobState | None] = []
        for ending in endings:
            status = written.moved.get(ending.job_id)
            if status is not None:
                self._moved(ending.job_id, status)
            states.append(None if status is None else status.state)
        return states

    async def _end_lost(self, lease: ExpiredLease, now: datetime) -> bool:
        """A job whose worker died: re-queued if its flow opted in and has
        retries left, else ERROR / ZOMBIE_PROCESS (CANCELING ones: CANCELED)."""
        if lease.state is JobState.CANCELING:
            outcome, status = "canceled", domain.USER_CANCELED
            moved = await self.store.reap(lease.job_id, lease.state, status, now)
        elif lease.attempts <= lease.retry_on_loss:
            outcome, status = "requeued", domain.REQUEUED
            moved = await self.store.requeue(lease.job_id, status, now)
        else:
            outcome, status = "zombie", domain.ZOMBIE
            error = domain.error_detail(status)
            moved = await self.store.reap(lease.job_id, lease.state, status, now, error)
        if moved:
            self._moved(lease.job_id, status)
            self.metrics.lease_expiries.labels(outcome).inc()
        return moved

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
            if await self.store.transition(
                job_id, [JobState.RUNNING], status, now, error=domain.error_detail(status)
            ):
                self._moved(job_id, status)
                reaped += 1
        return reaped

    # ---- retention ---------------------------------------------------------------

    async def prune(self, older_than: timedelta, *, batch_size: int = 5000) -> int:
        """Delete finished jobs (and their details) that ended more than
        ``older_than`` ago; the number deleted."""
        return await self.store.prune_finished(utcnow() - older_than, batch_size)
