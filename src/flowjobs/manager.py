"""JobManager: every job operation, for the API and for the worker.

The API and the worker call this; only this calls the store's job methods.
Each state change is one conditional update in the store, so that any race
(cancel against complete, two workers against one job) has one winner.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from flowjobs import domain
from flowjobs.config import Settings
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
    RuleStatus,
    RuleVersion,
    Space,
    Status,
)
from flowjobs.errors import (
    AlreadyExistsError,
    ForbiddenError,
    IdempotencyKeyReusedError,
    InvalidRequestError,
    InvalidVersionError,
    JobConflictError,
    JobNotFoundError,
    NotAnIntegrationFlowError,
    QuotaExceededError,
    RuleNotFoundError,
    RuleVersionNotFoundError,
    SpaceNotFoundError,
    TooManyWaitingJobsError,
    UnauthorizedError,
)
from flowjobs.ids import new_job_id
from flowjobs.inputschema import InputSchemas
from flowjobs.jsoncheck import require_storable
from flowjobs.keys import hash_secret
from flowjobs.metrics import Metrics, QueueRow
from flowjobs.store import SqlStore
from flowjobs.watch import JobWatcher

MAX_PAGE = 200  # jobs in one page of a listing
# The highest rule version: versions are 32-bit integers in the database
# (PostgreSQL's integer), so a filter past it would fail the statement.
MAX_VERSION = 2**31 - 1
RERUNNABLE = frozenset({JobState.ERROR, JobState.CANCELED})


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

    MAX_CANCEL_IDS = 1000  # more named jobs than this: look them all up instead

    def __init__(self) -> None:
        self.job_waiting = asyncio.Event()
        self.cancel_requested = asyncio.Event()
        self.webhook_due = asyncio.Event()
        # What the cancel requests since the worker last looked named: job
        # ids, or "any job" (None) when one of them did not say which.
        self._cancel_ids: set[str] | None = set()

    def notify_waiting(self) -> None:
        self.job_waiting.set()

    def notify_cancel(self, job_ids: Iterable[str] | None = None) -> None:
        """Jobs were asked to cancel: these ones, or (None) any of them."""
        if job_ids is None or self._cancel_ids is None:
            self._cancel_ids = None
        else:
            self._cancel_ids.update(job_ids)
            if len(self._cancel_ids) > self.MAX_CANCEL_IDS:  # no worker here drains them
                self._cancel_ids = None
        self.cancel_requested.set()

    def take_cancels(self) -> set[str] | None:
        """The jobs named since the last call (None: any job may be canceling),
        and forget them; clears ``cancel_requested``."""
        self.cancel_requested.clear()
        named, self._cancel_ids = self._cancel_ids, set()
        return named

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


def idempotent_request(
    key: str | None, rule: RuleVersion, version: str | None, input_data: Any
) -> IdempotentRequest | None:
    """The key with a hash of what the start asks for: the rule, the version
    as asked (``latest`` and none are the same) and the input."""
    if not key:
        return None
    spec = "latest" if version in (None, "latest") else str(parse_version(version))
    text = json.dumps(
        [rule.base_id, spec, input_data], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return IdempotentRequest(key, hashlib.sha256(text.encode()).hexdigest())


def encode_cursor(job: JobRecord) -> str:
    """An opaque position after ``job`` in a newest-first listing."""
    text = json.dumps([job.created_at.isoformat(), job.id], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, job_id = json.loads(text)
        position = (datetime.fromisoformat(created), str(job_id))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidRequestError("cursor is not a nextCursor of this listing") from exc
    if position[0].tzinfo is None or not is_uuid(position[1]):
        raise InvalidRequestError("cursor is not a nextCursor of this listing")
    return position


_MISSING: Any = object()


class TtlCache:
    """A process's short-lived memory of lookups that every request repeats
    (API keys, spaces, rule versions). An entry serves for ``seconds`` and
    only while ``generation()`` is unchanged: the store bumps it whenever this
    process writes spaces, keys or rules, so local changes apply at once and
    changes by other processes within ``seconds``. Negative answers (None)
    are kept too, so a flood of bad keys costs no more reads than good ones."""

    def __init__(
        self, seconds: float, generation: Callable[[], int], *, capacity: int = 10_000
    ) -> None:
        self.seconds = seconds
        self.generation = generation
        self.capacity = capacity
        self._entries: dict[Hashable, tuple[float, int, Any]] = {}
        self._reading: dict[Hashable, asyncio.Future[Any]] = {}

    def get(self, key: Hashable) -> Any:
        """The cached value (None included), or ``_MISSING``."""
        entry = self._entries.get(key)
        if entry is None:
            return _MISSING
        expires, generation, value = entry
        if expires < time.monotonic() or generation != self.generation():
            del self._entries[key]
            return _MISSING
        return value

    def put(self, key: Hashable, value: Any, generation: int) -> None:
        """Remember ``value``, read when the generation was ``generation``."""
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.capacity:
            self._entries.clear()  # rare; simpler and cheaper than LRU bookkeeping
        self._entries[key] = (time.monotonic() + self.seconds, generation, value)

    async def lookup(self, key: Hashable, read: Callable[[], Awaitable[Any]]) -> Any:
        """The cached value, or ``read()``'s; concurrent misses of one key share
        one read, so an expiry under load costs one query, not one per request."""
        value = self.get(key)
        if value is not _MISSING:
            return value
        pending = self._reading.get(key)
        if pending is not None:
            value = await asyncio.shield(pending)
            if value is not _MISSING:
                return value  # else the shared read failed: read on our own
            return await read()
        generation = self.generation()  # before the read: a write during it voids the entry
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._reading[key] = future
        value = _MISSING
        try:
            value = await read()
        finally:
            del self._reading[key]
            future.set_result(value)
        self.put(key, value, generation)
        return value


@dataclass(frozen=True)
class RuleCancelResult:
    rule: RuleVersion
    counts: CancelCounts


class LeaseRenewer:
    """Renews leases through a store of its own (one connection), so that a
    thread with its own event loop can keep a worker's jobs alive while the
    main loop is busy (issue 17: a flow that held the loop past the lease
    made every job of the process end ZOMBIE_PROCESS)."""

    def __init__(self, url: str, lease_seconds: float) -> None:
        self._store = SqlStore(url, pool_size=1, max_overflow=0)
        self._lease_seconds = lease_seconds

    async def renew(self, worker_id: str, job_ids: list[str]) -> Heartbeat:
        return await self._store.heartbeat(worker_id, job_ids, utcnow(), self._lease_seconds)

    async def close(self) -> None:
        await self._store.close()


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

        def generation() -> int:
            return store.catalog_generation

        self._keys = TtlCache(settings.key_cache_seconds, generation)
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

    async def authenticate(self, secret: str) -> ApiKey:
        """The key with this secret; cached for at most FLOWJOBS_KEY_CACHE_SECONDS
        (1 s), so a key revoked by another process stops working within it."""
        key_hash = hash_secret(secret)
        key: ApiKey | None = await self._keys.lookup(
            key_hash, lambda: self.store.find_key(key_hash)
        )
        if key is None:
            raise UnauthorizedError()
        return key

    async def active_key(self, key_id: str) -> ApiKey | None:
        """The key with this id, if it still exists and is not revoked."""
        return await self.store.find_key_by_id(key_id)

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

    async def complete(self, job_id: str, worker_id: str, output: Any) -> JobState:
        if await self.store.transition(
            job_id,
            [JobState.RUNNING],
            domain.COMPLETED,
            utcnow(),
            worker_id=worker_id,
            output=output_array(output),
        ):
            self._moved(job_id, domain.COMPLETED)
            return JobState.COMPLETED
        return await self.mark_canceled(job_id, worker_id)

    async def fail(
        self, job_id: str, worker_id: str, status: domain.Status, error: dict[str, Any]
    ) -> JobState:
        if await self.store.transition(
            job_id, [JobState.RUNNING], status, utcnow(), worker_id=worker_id, error=error
        ):
            self._moved(job_id, status)
            return status.state
        return await self.mark_canceled(job_id, worker_id)

    async def mark_canceled(self, job_id: str, worker_id: str) -> JobState:
        """A job asked to cancel has stopped: CANCELING becomes CANCELED."""
        moved = await self.store.transition(
            job_id, [JobState.CANCELING], domain.USER_CANCELED, utcnow(), worker_id=worker_id
        )
        if moved:
            self._moved(job_id, domain.USER_CANCELED)
        return JobState.CANCELED if moved else JobState.ERROR

    async def end_jobs(self, endings: Sequence[JobEnding]) -> list[JobState | None]:
        """Write many jobs' endings in one transaction (the worker's batched
        end path; each job moves as :meth:`complete`, :meth:`fail`,
        :meth:`release` or :meth:`mark_canceled` would move it). Per ending,
        in order: the state its job ended in, or None when its worker no
        longer held it (its lease ran out and the reaper ended it)."""
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

    async def release(self, job_id: str, worker_id: str, reason: str) -> None:
        """Give up a job on shutdown: it ends CANCELED, saying why."""
        now = utcnow()
        status = domain.system_canceled(reason)
        if await self.store.transition(
            job_id, [JobState.RUNNING], status, now, worker_id=worker_id
        ):
            self._moved(job_id, status)
        else:
            await self.mark_canceled(job_id, worker_id)

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
