"""Waiting on jobs without a database query per waiting request.

Long-polls (``GET /job/{id}?wait=``) and event streams subscribe to one
:class:`JobWatcher` per process by job id. The watcher re-reads the watched
jobs, all of them in one batched query (``WHERE id IN (...)``), when

- something in this process changed them (the manager calls :meth:`changed`
  after every state change and progress save it makes, e.g. by an embedded
  worker);
- another process did, on PostgreSQL: the store sends a ``NOTIFY`` with the
  job ids in the transaction that changes them (:meth:`notified`);
- and every ``interval`` seconds in any case: the safety net for separate
  processes on SQLite, where there are no notifications, and for lost ones.

A re-read first fetches a small stamp of each job (state, code, last update,
progress) and only the jobs whose stamp moved in full. Subscribers then see
the newest version of the job; versions in between may be skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

from flowjobs.domain import JobRecord, JobStamp, stamp
from flowjobs.errors import StoreError, TooManyWaitersError

log = logging.getLogger("flowjobs.watch")

FetchStamps = Callable[[Sequence[str]], Awaitable[dict[str, JobStamp]]]
FetchJobs = Callable[[Sequence[str]], Awaitable[list[JobRecord]]]


class Subscription:
    """One waiting request's view of one job."""

    def __init__(self, watched: _Watched, job: JobRecord) -> None:
        self._watched = watched
        self.job = job  # the newest version this subscriber has seen
        self._changed = asyncio.Event()

    def wake(self) -> None:
        self._changed.set()

    async def next(self) -> JobRecord:
        """The job as soon as it differs from what this subscriber last saw."""
        while stamp(self._watched.latest) == stamp(self.job):
            self._changed.clear()
            await self._changed.wait()
        self.job = self._watched.latest
        return self.job


@dataclass
class _Watched:
    latest: JobRecord
    subscribers: set[Subscription] = field(default_factory=set)


class WaiterShares:
    """Who holds the process's waiter slots: at most ``capacity`` in all,
    ``per_space`` per space and ``per_key`` per API key, so one space (or one
    key) that keeps many requests waiting cannot take every slot and make the
    others' ``?wait=`` and ``/events`` get 429 (issue 17, point 5)."""

    def __init__(self, capacity: int, per_space: int | None, per_key: int | None) -> None:
        self.capacity = capacity
        self.per_space = per_space
        self.per_key = per_key
        self.total = 0
        self.spaces: Counter[str] = Counter()
        self.keys: Counter[str] = Counter()

    def take(self, space_id: str, key_id: str | None) -> None:
        """Take one slot for this space and key, or raise TooManyWaitersError."""
        if self.total >= self.capacity:
            raise TooManyWaitersError(
                f"{self.capacity} requests already wait on jobs in this process; retry shortly"
            )
        if self.per_space is not None and self.spaces[space_id] >= self.per_space:
            raise TooManyWaitersError(
                f"{self.per_space} requests of this space already wait on jobs in this "
                "process; retry shortly"
            )
        if key_id is not None and self.per_key is not None and self.keys[key_id] >= self.per_key:
            raise TooManyWaitersError(
                f"{self.per_key} requests of this API key already wait on jobs in this "
                "process; retry shortly"
            )
        self.total += 1
        self.spaces[space_id] += 1
        if key_id is not None:
            self.keys[key_id] += 1

    def give_back(self, space_id: str, key_id: str | None) -> None:
        self.total -= 1
        _decrement(self.spaces, space_id)
        if key_id is not None:
            _decrement(self.keys, key_id)


def _decrement(counter: Counter[str], name: str) -> None:
    counter[name] -= 1
    if counter[name] <= 0:
        del counter[name]  # an idle space or key keeps no entry


class JobWatcher:
    def __init__(
        self,
        stamps: FetchStamps,
        jobs: FetchJobs,
        *,
        interval: float,
        capacity: int,
        per_space: int | None = None,
        per_key: int | None = None,
    ) -> None:
        self._stamps = stamps
        self._jobs = jobs
        self.interval = interval
        self.capacity = capacity
        self._shares = WaiterShares(capacity, per_space, per_key)
        self._watched: dict[str, _Watched] = {}
        self._pending: set[str] = set()
        self._refresh_all = False
        self._wake = asyncio.Event()

    @property
    def subscribers(self) -> int:
        return self._shares.total

    @contextlib.contextmanager
    def subscribe(self, job: JobRecord, key_id: str | None = None) -> Iterator[Subscription]:
        """Watch ``job`` (as read just now) for as long as the block runs, on
        behalf of API key ``key_id``. Raises TooManyWaitersError when the
        process's capacity, or the share of the job's space or of the key, is
        used up."""
        self._shares.take(job.space_id, key_id)
        watched = self._watched.setdefault(job.id, _Watched(job))
        if job.updated_at > watched.latest.updated_at:
            self._publish(job)  # fresher than what the others were told
        subscription = Subscription(watched, job)
        watched.subscribers.add(subscription)
        self.changed(job.id)  # it may have changed between the read and now
        try:
            yield subscription
        finally:
            self._shares.give_back(job.space_id, key_id)
            watched.subscribers.discard(subscription)
            if not watched.subscribers:
                self._watched.pop(job.id, None)

    def changed(self, job_id: str | None = None) -> None:
        """Re-read this watched job soon (None: every watched job)."""
        if job_id is None:
            if self._watched:
                self._refresh_all = True
                self._wake.set()
        elif job_id in self._watched:
            self._pending.add(job_id)
            self._wake.set()

    def notified(self, payload: str) -> None:
        """A job-change notification: comma-separated job ids, "" for any."""
        if not payload:
            self.changed(None)
            return
        for job_id in payload.split(","):
            self.changed(job_id)

    async def run(self) -> None:
        """Re-read watched jobs when told to, and every ``interval`` seconds
        while any are watched; until cancelled."""
        while True:
            timed_out = await self._sleep()
            job_ids = self._due(every=timed_out)
            if not job_ids:
                continue
            try:
                await self.refresh(job_ids)
            except StoreError:
                log.warning("watched jobs not read", extra={"action": "watch"}, exc_info=True)

    async def _sleep(self) -> bool:
        """Wait for a change or the interval (only while jobs are watched);
        True when the interval passed."""
        timeout = self.interval if self._watched else None
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return True
        finally:
            self._wake.clear()
        return False

    def _due(self, *, every: bool) -> list[str]:
        if every or self._refresh_all:
            due = list(self._watched)
        else:
            due = [job_id for job_id in self._pending if job_id in self._watched]
        self._pending.clear()
        self._refresh_all = False
        return due

    async def refresh(self, job_ids: Sequence[str]) -> None:
        """Read these jobs' stamps, then the jobs whose stamp moved, and hand
        them to their subscribers."""
        stamps = await self._stamps(job_ids)
        moved = [
            job_id
            for job_id, current in stamps.items()
            if job_id in self._watched and current != stamp(self._watched[job_id].latest)
        ]
        if moved:
            for job in await self._jobs(moved):
                self._publish(job)

    def _publish(self, job: JobRecord) -> None:
        watched = self._watched.get(job.id)
        if watched is None:
            return
        watched.latest = job
        for subscription in watched.subscribers:
            subscription.wake()
