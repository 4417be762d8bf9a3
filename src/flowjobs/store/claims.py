"""Claims and the leases they hold: taking waiting jobs within their spaces'
``parallelLimit``, renewing leases, and what becomes of a job whose lease or
deadline ran out (requeued or reaped).

PostgreSQL: a claim is one statement (its SQL and why it keeps the limits
exact: store/claim.py): waiting jobs are picked with ``FOR UPDATE SKIP
LOCKED``, so workers never wait on each other's candidates; the spaces' rows
are locked and rewritten, so two workers claiming for the same space queue
behind each other, and a claim whose snapshot missed another's runs again.
SQLite: one ``BEGIN IMMEDIATE`` transaction, which serialises every claim.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from flowjobs.domain import (
    ACTIVE_STATES,
    FINAL_STATES,
    ClaimedJob,
    ExpiredLease,
    Heartbeat,
    JobRecord,
    JobState,
    Status,
)
from flowjobs.store import claim as claim_sql
from flowjobs.store.database import JOB_CHANNEL, WAITING_CHANNEL, Database
from flowjobs.store.endings import update_jobs
from flowjobs.store.rows import ENDED_COLUMNS, ended, job_from_row, status_values
from flowjobs.store.tables import jobs
from flowjobs.store.usage import add_usage

_ACTIVE = [s.value for s in ACTIVE_STATES]
log = logging.getLogger("flowjobs.store")


def _pick_within_limits(
    candidates: Sequence[Any], load: dict[str, tuple[int, int]]
) -> list[tuple[Any, int]]:
    """SQLite claim: the candidates (in claim order) whose space has a free
    slot, each with its space's running count once it is taken; ``load``
    (space: running, limit) is updated as jobs are picked."""
    picked = []
    for candidate in candidates:
        running, space_limit = load[candidate.space_id]
        if running >= space_limit:
            continue  # its space is full: the job stays waiting
        load[candidate.space_id] = (running + 1, space_limit)
        picked.append((candidate, running + 1))
    return picked


async def _claim_instants(
    conn: AsyncConnection,
    now: datetime,
    picked: list[tuple[Any, int]],
    load: dict[str, tuple[int, int]],
) -> list[tuple[Any, datetime]]:
    """SQLite claim: each picked job with its claimedAt (store/claim.py says
    why): ``now``, unless more jobs of its space ended after ``now`` (stamped
    so by a clock read later) than the space has slots left beside it; then
    the end after which only that many remain, so that no instant sees more
    than the space's parallelLimit of [claimedAt, endedAt) intervals."""
    ends: dict[str, list[datetime]] = {}
    for space_id, ended_at in await conn.execute(claim_sql.ENDS_AFTER, {"after": now}):
        # SQLite hands back naive datetimes; everything stored is UTC
        ends.setdefault(space_id, []).append(ended_at.replace(tzinfo=UTC))
    instants = []
    for candidate, running in picked:
        late = sorted(ends.get(candidate.space_id, []), reverse=True)
        slack = load[candidate.space_id][1] - running  # slots left once it is taken
        instants.append((candidate, late[slack] if len(late) > slack else now))
    return instants


def _rules_of(taken: Iterable[JobRecord]) -> dict[tuple[str, int], dict[str, Any]]:
    """The DOCUMENT parameters of each distinct rule version of these jobs."""
    return {
        (job.base_id, job.version): {"rule": job.base_id, "rule_version": job.version}
        for job in taken
    }


async def _take(
    conn: AsyncConnection,
    picked: list[tuple[Any, datetime]],
    worker_id: str,
    lease_s: float,
    status: Status,
) -> dict[str, JobRecord]:
    """SQLite: take the picked jobs, each claimed at its instant: one UPDATE
    per distinct (execution limit, instant), usually one; the jobs by id."""
    groups: dict[tuple[float, datetime], list[str]] = {}
    for candidate, claimed in picked:
        groups.setdefault((candidate.execution_limit_s, claimed), []).append(candidate.id)
    taken: dict[str, JobRecord] = {}
    for (execution_limit_s, claimed), ids in groups.items():
        parameters = {
            "candidates": ids,
            "new_state": status.state.value,
            "new_code": status.code.value,
            "new_message": status.message,
            "claimed": claimed,
            "worker": worker_id,
            "lease_until": claimed + timedelta(seconds=lease_s),
            "deadline": claimed + timedelta(seconds=execution_limit_s),
        }
        for row in (await conn.execute(claim_sql.TAKE, parameters)).all():
            job = job_from_row(row)
            taken[job.id] = job
    # the writer lock is held since the candidates were read: all still WAITING
    assert len(taken) == len(picked), "a picked job was not WAITING"
    return taken


class ClaimStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- claims -------------------------------------------------------------

    async def claim(
        self,
        worker_id: str,
        limit: int,
        clock: Callable[[], datetime],
        lease_s: float,
        status: Status,
        *,
        durable: bool = True,
    ) -> list[ClaimedJob]:
        """Take up to ``limit`` waiting jobs, highest priority then oldest first,
        only from spaces under their parallel limit (``durable``: see
        :func:`claim_sql.claim_parameters`; SQLite ignores it).

        PostgreSQL: one statement in autocommit, one round trip; when another
        claim of a space committed under it, that space is claimed from again
        under its lock (store/claim.py says why this keeps the limits exact).
        SQLite: one ``BEGIN IMMEDIATE`` transaction, which serialises every
        claim, so the running counts it reads are exact."""
        if self.db.is_sqlite:
            return await self._claim_serialised(worker_id, limit, clock, lease_s, status)
        parameters = functools.partial(
            claim_sql.claim_parameters,
            worker_id,
            lease_s=lease_s,
            status=status,
            job_channel=JOB_CHANNEL,
            durable=durable,
        )
        async with self.db.one_statement(claim=True) as conn:
            result = await conn.execute(claim_sql.CLAIM_STATEMENT, parameters(limit, clock()))
            claimed, stale = claim_sql.claimed_rows(result.all())
        if stale and len(claimed) < limit:
            claimed += await self._claim_under_locks(stale, limit - len(claimed), clock, parameters)
        return [
            ClaimedJob(job_from_row(r), r.document, running_in_space=r.running_in_space)
            for r in claimed
        ]

    async def _claim_under_locks(
        self,
        spaces: list[str],
        limit: int,
        clock: Callable[[], datetime],
        parameters: Callable[..., dict[str, Any]],
    ) -> list[Row[Any]]:
        """PostgreSQL: claim again from spaces a claim found stale, in a
        transaction that locks their rows first. The jobs already claimed are
        committed, so a failure here must not hide them: it takes nothing."""
        try:
            async with self.db.claim_engine.begin() as conn:
                await conn.execute(claim_sql.LOCK_SPACES, {"spaces": spaces})
                result = await conn.execute(
                    claim_sql.CLAIM_STATEMENT, parameters(limit, clock(), spaces=spaces)
                )
                return claim_sql.claimed_rows(result.all())[0]
        except SQLAlchemyError:
            log.warning("claim retry failed", extra={"action": "claim"}, exc_info=True)
            return []

    async def _claim_serialised(
        self,
        worker_id: str,
        limit: int,
        clock: Callable[[], datetime],
        lease_s: float,
        status: Status,
    ) -> list[ClaimedJob]:
        """SQLite: count, pick and take inside one ``BEGIN IMMEDIATE``
        transaction; no other claim can run until it commits, so the running
        counts it reads are exact. The clock is read once the lock is held:
        ``claimedAt`` is when the claim happened."""
        assert status.state not in FINAL_STATES  # a claim sets no ended_at
        async with self.db.write() as conn:
            load = {
                space: (int(running), int(space_limit))
                for space, space_limit, running in (await conn.execute(claim_sql.SPACE_LOAD))
                if space_limit > running
            }
            if not load:
                return []
            candidates = (
                await conn.execute(claim_sql.CANDIDATES, {"space_ids": list(load), "limit": limit})
            ).all()
            picked = _pick_within_limits(candidates, load)
            if not picked:
                return []
            instants = await _claim_instants(conn, clock(), picked, load)
            taken = await _take(conn, instants, worker_id, lease_s, status)
            documents = {
                rule: (await conn.execute(claim_sql.DOCUMENT, params)).scalar_one()
                for rule, params in _rules_of(taken.values()).items()
            }
        return [
            ClaimedJob(
                taken[c.id],
                documents[(taken[c.id].base_id, taken[c.id].version)],
                running_in_space=running,
            )
            for c, running in picked
        ]

    # ---- leases -------------------------------------------------------------

    async def heartbeat(
        self, worker_id: str, job_ids: list[str], now: datetime, lease_s: float
    ) -> Heartbeat:
        """Renew the leases of a worker's jobs in one statement."""
        if not job_ids:
            return Heartbeat(canceling=[], lost=[])
        async with self.db.write() as conn:
            result = await conn.execute(
                jobs.update()
                .where(
                    jobs.c.id.in_(job_ids),
                    jobs.c.worker_id == worker_id,
                    jobs.c.state.in_(_ACTIVE),
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_s))
                .returning(jobs.c.id, jobs.c.state)
            )
            held = {r.id: r.state for r in result.all()}
        return Heartbeat(
            canceling=[i for i, s in held.items() if s == JobState.CANCELING.value],
            lost=[i for i in job_ids if i not in held],
        )

    async def canceling_jobs(self, worker_id: str) -> list[str]:
        query = sa.select(jobs.c.id).where(
            jobs.c.worker_id == worker_id, jobs.c.state == JobState.CANCELING.value
        )
        async with self.db.read() as conn:
            return list((await conn.execute(query)).scalars())

    async def expired_leases(self, now: datetime) -> list[ExpiredLease]:
        query = sa.select(jobs.c.id, jobs.c.state, jobs.c.attempts, jobs.c.retry_on_loss).where(
            jobs.c.state.in_(_ACTIVE), jobs.c.lease_expires_at < now
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [ExpiredLease(r.id, JobState(r.state), r.attempts, r.retry_on_loss) for r in rows]

    async def requeue(self, job_id: str, status: Status, now: datetime) -> bool:
        """Put a RUNNING job whose lease expired back in the queue."""
        query = (
            jobs.update()
            .where(
                jobs.c.id == job_id,
                jobs.c.state == JobState.RUNNING.value,
                jobs.c.lease_expires_at < now,
            )
            .values(
                **status_values(status, now),
                worker_id=None,
                lease_expires_at=None,
                deadline_at=None,
            )
            .returning(*ENDED_COLUMNS)
        )
        async with self.db.write() as conn:
            rows = (await conn.execute(query)).all()
            if rows:
                # The lost attempt ran until now: its seconds are used, as for
                # a job that ended; the next claim (or a cancel while it waits)
                # must not count them again, hence claimed_at is cleared.
                lost = [replace(job, ended_at=now) for job in ended(rows)]
                await add_usage(conn, lost, now)
                await conn.execute(jobs.update().where(jobs.c.id == job_id).values(claimed_at=None))
                await self.db.notify(conn, WAITING_CHANNEL)
                await self.db.notify_jobs(conn, [job_id])
        return bool(rows)

    async def past_deadline(self, now: datetime) -> list[tuple[str, float]]:
        query = sa.select(jobs.c.id, jobs.c.execution_limit_s).where(
            jobs.c.state == JobState.RUNNING.value, jobs.c.deadline_at < now
        )
        async with self.db.read() as conn:
            return [(r.id, r.execution_limit_s) for r in (await conn.execute(query)).all()]

    async def reap(
        self,
        job_id: str,
        expect: JobState,
        status: Status,
        now: datetime,
        error: dict[str, Any] | None = None,
    ) -> bool:
        """End a job whose lease expired, if it is still expired and in ``expect``."""
        query = (
            jobs.update()
            .where(
                jobs.c.id == job_id,
                jobs.c.state == expect.value,
                jobs.c.lease_expires_at < now,
            )
            .values(**status_values(status, now), **({"error": error} if error else {}))
        )
        async with self.db.write() as conn:
            moved = await update_jobs(conn, query, status, now) == 1
            if moved:
                await self.db.notify_jobs(conn, [job_id])
        return moved
