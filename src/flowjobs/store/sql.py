"""The store as one object, for its callers: :class:`SqlStore` holds one
:class:`Database` and the per-concern parts over it, and gives their methods
the names the manager, catalog, rules, solver and usage call (the
:class:`flowjobs.store.protocol.Store` protocol). It holds no SQL itself:

- ``catalog`` (store/catalog.py): spaces, API keys, rules and their versions;
- ``jobs`` (store/jobs.py): starts, moves, cancels, details, retention;
- ``queries`` (store/job_queries.py): job lookups, listings, counts;
- ``claims`` (store/claims.py): claims, leases, requeue and reaping;
- ``endings`` (store/endings.py): where jobs end (outbox, usage);
- ``usage`` (store/usage.py): a space's seconds per month;
- ``workers`` (store/workers.py): the worker registry;
- ``audits`` (store/audits.py): the Solver API's audits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flowjobs.store.audits import AuditStore
from flowjobs.store.catalog import CatalogStore
from flowjobs.store.claims import ClaimStore
from flowjobs.store.database import Database
from flowjobs.store.endings import EndingStore
from flowjobs.store.engines import async_url, sync_url
from flowjobs.store.job_queries import JobQueries
from flowjobs.store.jobs import JobStore, prune_batch
from flowjobs.store.protocol import Store
from flowjobs.store.usage import UsageStore
from flowjobs.store.workers import WorkerStore

__all__ = ["SqlStore", "async_url", "sync_url"]


class SqlStore:
    """The store over SQLAlchemy Core; one instance per process."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 5,
        start_batch_rows: int = 500,
    ) -> None:
        self.db = Database(url, pool_size=pool_size, max_overflow=max_overflow)
        self.catalog = catalog = CatalogStore(self.db)
        self.jobs = jobs = JobStore(self.db, start_batch_rows=start_batch_rows)
        self.queries = queries = JobQueries(self.db)
        self.claims = claims = ClaimStore(self.db)
        self.endings = EndingStore(self.db)
        self.usage = usage = UsageStore(self.db)
        self.workers = workers = WorkerStore(self.db)
        self.audits = audits = AuditStore(self.db)
        # spaces, keys, rules
        self.insert_space = catalog.insert_space
        self.find_space = catalog.find_space
        self.list_spaces = catalog.list_spaces
        self.update_space_billing = catalog.update_space_billing
        self.insert_key = catalog.insert_key
        self.find_key = catalog.find_key
        self.find_key_by_id = catalog.find_key_by_id
        self.list_keys = catalog.list_keys
        self.revoke_key = catalog.revoke_key
        self.find_rule_versions = catalog.find_rule_versions
        self.list_rule_versions = catalog.list_rule_versions
        self.insert_rule_version = catalog.insert_rule_version
        self.set_rule_status = catalog.set_rule_status
        self.insert_next_version = catalog.insert_next_version
        self.update_rule_version = catalog.update_rule_version
        self.delete_rule_versions = catalog.delete_rule_versions
        # jobs written
        self.insert_job = jobs.insert_job
        self.transition = jobs.transition
        self.request_cancel = jobs.request_cancel
        self.cancel_many = jobs.cancel_many
        self.save_details = jobs.save_details
        # jobs read
        self.get_job = queries.get_job
        self.get_jobs = queries.get_jobs
        self.job_stamps = queries.job_stamps
        self.find_idempotent = queries.find_idempotent
        self.list_jobs = queries.list_jobs
        self.get_details = queries.get_details
        self.count_waiting = queries.count_waiting
        self.job_counts = queries.job_counts
        self.queue_depths = queries.queue_depths
        self.finished_per_minute = queries.finished_per_minute
        # claims and leases
        self.claim = claims.claim
        self.heartbeat = claims.heartbeat
        self.canceling_jobs = claims.canceling_jobs
        self.expired_leases = claims.expired_leases
        self.requeue = claims.requeue
        self.past_deadline = claims.past_deadline
        self.reap = claims.reap
        # the worker's batched ends
        self.end_jobs = self.endings.end_jobs
        # usage
        self.month_usage = usage.month_usage
        self.month_job_counts = usage.month_job_counts
        # worker registry
        self.register_worker = workers.register_worker
        self.worker_heartbeat = workers.worker_heartbeat
        self.worker_stopped = workers.worker_stopped
        self.list_workers = workers.list_workers
        self.prune_workers = workers.prune_workers
        # Solver API audits
        self.insert_audit = audits.insert_audit
        self.get_audit = audits.get_audit
        self.prune_audits = audits.prune_audits
        # notifications and health
        self.listen = self.db.listen
        self.listen_job_changes = self.db.listen_job_changes
        self.schema_revision = self.db.schema_revision

    # One batch of :meth:`prune_finished` (bench/explain.py shows its plan).
    prune_batch = staticmethod(prune_batch)

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def is_sqlite(self) -> bool:
        return self.db.is_sqlite

    @property
    def catalog_generation(self) -> int:
        """Bumped by every write of spaces, keys or rules: it tells the
        manager's short-lived caches of those rows that this process changed them."""
        return self.catalog.generation

    @property
    def sqlite_file(self) -> Path | None:
        return self.db.sqlite_file

    async def prune_finished(self, before: datetime, batch_size: int = 5000) -> int:
        """Delete finished jobs that ended before ``before`` (store/jobs.py),
        Solver audits past their time to live first."""
        await self.audits.prune_audits(datetime.now(UTC))
        return await self.jobs.prune_finished(before, batch_size)

    async def close(self) -> None:
        await self.jobs.close()  # the starts still queued are written first
        await self.db.close()


if TYPE_CHECKING:
    # mypy checks here that the facade keeps the protocol the services call.
    _KEEPS_THE_PROTOCOL: type[Store] = SqlStore
