"""The claim's statements, built once: on PostgreSQL one statement, one
round trip; on SQLite the few statements of a ``BEGIN IMMEDIATE`` claim.

A claim must never let a space run more jobs than its ``parallelLimit``, even
with many workers claiming at once. Counting a space's running jobs and
locking its row in one statement is not enough under READ COMMITTED: the
count comes from the statement's snapshot, and a claim that commits after
that snapshot (while we wait for, or just before we take, the space's lock)
is not in it. So every claim also *writes* the rows of the spaces it locked
(a no-op update: a new row version), and compares what its snapshot saw of
each space with what it locked:

- same row version (``xmin``): no claim of that space committed since the
  snapshot, and none can commit before ours (we hold the lock), so the
  snapshot's count is exact and the space's jobs are taken;
- another row version: a claim (or a billing update) committed meanwhile;
  the space's candidates are left waiting and the statement names the space
  (``stale``). :meth:`ClaimStore.claim` (store/claims.py) then claims from those spaces once more
  in a transaction that first locks their rows (:data:`LOCK_SPACES`) and only
  then runs the statement, restricted to them (``:spaces``): its snapshot is
  taken under the locks, so it cannot be stale, and it touches no other space,
  so it cannot deadlock. That costs four round trips instead of one, only
  when two claims of one space overlap; it always makes progress, where
  retrying the one statement could lose to the next claim again and again.

The statement never updates a row version older than the one it locked:
PostgreSQL would then queue for that old version's tuple lock, which a claim
waiting for ours may hold (a deadlock, seen in tests/integration/
test_scale_postgres.py). So only spaces that are not stale are rewritten (the
version the snapshot sees is then the one locked), and a job is taken only
if the version the snapshot sees is the one ``picked`` locked (``ctid``; a
waiting job changed since the snapshot, which is rare, stays for the next
claim).

Spaces are locked in id order, so two claims never deadlock; waiting jobs
are picked ``FOR UPDATE SKIP LOCKED``, so claims never wait on each other's
candidates; the spaces' lock is ``FOR NO KEY UPDATE`` (the update changes no
key), so starts (a foreign-key share lock on the space) are not blocked.
The job-change notification goes out with the commit, as before.

``claimedAt`` is the claimer's clock, read before the statement, unless
more jobs of the space ended after it (stamped so by a clock read later,
or running ahead) than the space has slots left beside the job: then the
end after which only that many remain. Those ends are in this statement's
snapshot (the end that freed a slot is in the snapshot that counted it
free), so the ``[claimedAt, endedAt)`` intervals of a space never overlap
more than its ``parallelLimit`` at any instant, which audits and billing
rely on; found as five overlapping in a limit-3 space when the clock was
read before an end committed. ``late_ends`` is a range of ``ix_jobs_ended``
that is normally empty. The SQLite claim does the same (``ENDS_AFTER``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from flowjobs.domain import ACTIVE_STATES, JobState, Status
from flowjobs.store.tables import jobs, rule_versions, spaces

# The claim's sessions never sort to pick: the waiting jobs are taken by
# walking ix_jobs_claim (partial, WAITING only) in its order, which stops
# after ``:limit`` rows. Left to its statistics, the planner takes that walk
# only while they are fresh: right after a burst of starts (or a TRUNCATE)
# they still say few jobs wait, and it chose to read every waiting job and
# sort them, on every claim (56 ms instead of 2 ms with 20,000 waiting, by
# EXPLAIN ANALYZE; the bench's processing rate fell by half until
# autovacuum's next ANALYZE; tests/integration/test_claim_postgres.py checks
# the plan). Sorts the claim cannot do without (a handful of claimed rows)
# still run.
SESSION_OPTIONS = "-c enable_sort=off"

# Job ids per pg_notify: 100 ids are 3.7 kB; PostgreSQL takes payloads up to 8 kB.
IDS_PER_NOTIFY = 100

_ACTIVE_LIST = ", ".join(f"'{s.value}'" for s in sorted(ACTIVE_STATES, key=lambda s: s.value))
_WAITING = f"'{JobState.WAITING.value}'"

CLAIM_STATEMENT = sa.text(
    f"""
WITH running AS (
    SELECT space_id, count(*) AS n
    FROM jobs
    WHERE state IN ({_ACTIVE_LIST})
    GROUP BY space_id
),
free AS MATERIALIZED (
    SELECT s.id, s.xmin AS seen, coalesce(r.n, 0) AS running,
           s.parallel_limit - coalesce(r.n, 0) AS slots
    FROM spaces s LEFT JOIN running r ON r.space_id = s.id
    WHERE s.parallel_limit > coalesce(r.n, 0)
      AND (CAST(:spaces AS text[]) IS NULL OR s.id = ANY(CAST(:spaces AS text[])))
),
picked AS MATERIALIZED (
    SELECT j.id, j.ctid AS locked_version, j.space_id, j.priority, j.created_at
    FROM jobs j
    WHERE j.state = {_WAITING} AND j.space_id IN (SELECT id FROM free)
    ORDER BY j.priority DESC, j.created_at
    LIMIT :limit
    FOR UPDATE OF j SKIP LOCKED
),
locked AS MATERIALIZED (
    SELECT s.id, s.xmin AS latest
    FROM spaces s
    WHERE s.id IN (SELECT space_id FROM picked)
    ORDER BY s.id
    FOR NO KEY UPDATE
),
bumped AS (
    UPDATE spaces s SET parallel_limit = s.parallel_limit
    FROM locked JOIN free ON free.id = locked.id
    WHERE s.id = locked.id AND locked.latest = free.seen
    RETURNING s.id
),
ranked AS (
    SELECT id, locked_version, space_id,
           row_number() OVER (PARTITION BY space_id ORDER BY priority DESC, created_at) AS rank
    FROM picked
),
fitting AS (
    SELECT ranked.id, ranked.locked_version, ranked.space_id,
           free.running + ranked.rank AS running_in_space, free.slots - ranked.rank AS slack
    FROM ranked
    JOIN free ON free.id = ranked.space_id
    JOIN locked ON locked.id = ranked.space_id AND locked.latest = free.seen
    WHERE ranked.rank <= free.slots
),
late_ends AS MATERIALIZED (
    SELECT space_id, ended_at FROM jobs WHERE ended_at > CAST(:now AS timestamptz)
),
stamped AS MATERIALIZED (
    SELECT fitting.*, greatest(CAST(:now AS timestamptz), (
        SELECT late_ends.ended_at FROM late_ends
        WHERE late_ends.space_id = fitting.space_id
        ORDER BY late_ends.ended_at DESC OFFSET fitting.slack LIMIT 1
    )) AS claimed
    FROM fitting
),
taken AS (
    UPDATE jobs j
    SET state = :state, code = :code, message = :message, updated_at = stamped.claimed,
        worker_id = :worker_id, claimed_at = stamped.claimed,
        lease_expires_at = stamped.claimed + CAST(:lease_s AS float8) * interval '1 second',
        deadline_at = stamped.claimed + j.execution_limit_s * interval '1 second',
        attempts = j.attempts + 1
    FROM stamped
    WHERE j.id = stamped.id AND j.ctid = stamped.locked_version AND j.state = {_WAITING}
    RETURNING j.*, stamped.running_in_space
),
told AS (
    SELECT pg_notify(:job_channel, string_agg(id, ',')) AS sent
    FROM (SELECT id, (row_number() OVER () - 1) / {IDS_PER_NOTIFY} AS chunk FROM taken) numbered
    GROUP BY chunk
)
SELECT
    (SELECT set_config('synchronous_commit', :synchronous_commit, true)) AS commit_mode,
    (SELECT array_agg(locked.id) FROM locked JOIN free ON free.id = locked.id
     WHERE NOT (locked.latest = free.seen)) AS stale,
    (SELECT count(*) FROM told) AS told,
    taken.*,
    rule_versions.document
FROM (SELECT 1) AS one
LEFT JOIN (
    taken JOIN rule_versions
    ON rule_versions.base_id = taken.base_id AND rule_versions.version = taken.version
) ON true
ORDER BY taken.priority DESC, taken.created_at
"""
)


# The retry's first statement: the stale spaces' rows, locked in id order.
LOCK_SPACES = sa.text(
    "SELECT id FROM spaces WHERE id = ANY(CAST(:spaces AS text[])) ORDER BY id FOR NO KEY UPDATE"
)


def claim_parameters(
    worker_id: str,
    limit: int,
    now: datetime,
    lease_s: float,
    status: Status,
    *,
    job_channel: str,
    durable: bool = True,
    spaces: list[str] | None = None,
) -> dict[str, Any]:
    """The bind parameters of :data:`CLAIM_STATEMENT`; ``spaces`` (None: all)
    restricts the claim to those spaces. ``durable=False`` commits the claim
    without waiting for its WAL to reach disk (``synchronous_commit`` off for
    this transaction only): the flush was the largest part of a dispatch. A
    database crash can then undo claims of the last moment (at most three
    ``wal_writer_delay``, 0.6 s by default): those jobs are WAITING again and
    run again, while every start and every end stays durable; the next
    durable commit of any session flushes the claim with it."""
    return {
        "synchronous_commit": "on" if durable else "off",
        "spaces": spaces,
        "limit": limit,
        "state": status.state.value,
        "code": status.code.value,
        "message": status.message,
        "now": now,
        "worker_id": worker_id,
        "lease_s": lease_s,
        "job_channel": job_channel,
    }


def claimed_rows(rows: Sequence[Row[Any]]) -> tuple[list[Row[Any]], list[str]]:
    """The rows of the jobs taken (in claim order), and the spaces left out
    because another claim of them committed after the snapshot (sorted)."""
    stale = sorted(rows[0].stale or []) if rows else []
    return [r for r in rows if r.id is not None], stale


# ---- SQLite: the statements of the serialised claim ---------------------------------
# Built once with bound parameters, so that SQLAlchemy's compiled cache hits
# instead of building and walking new statement trees per claim.

_running_per_space = (
    sa.select(jobs.c.space_id, sa.func.count().label("n"))
    .where(jobs.c.state.in_([s.value for s in ACTIVE_STATES]))
    .group_by(jobs.c.space_id)
    .subquery()
)
# (space, parallel limit, running jobs) of every space.
SPACE_LOAD = sa.select(
    spaces.c.id, spaces.c.parallel_limit, sa.func.coalesce(_running_per_space.c.n, 0)
).outerjoin(_running_per_space, _running_per_space.c.space_id == spaces.c.id)

CANDIDATES = (
    sa.select(jobs.c.id, jobs.c.space_id, jobs.c.execution_limit_s)
    .where(
        jobs.c.state == JobState.WAITING.value,
        jobs.c.space_id.in_(sa.bindparam("space_ids", expanding=True)),
    )
    .order_by(jobs.c.priority.desc(), jobs.c.created_at)
    .limit(sa.bindparam("limit", type_=sa.Integer))
)

# Parameters named unlike the columns: an UPDATE's parameters named as
# columns would be taken as values to SET. Every picked job with the same
# execution limit (so the same deadline) in one statement: each statement is
# about four hops to aiosqlite's thread, which one per job multiplied.
TAKE = (
    jobs.update()
    .where(
        jobs.c.id.in_(sa.bindparam("candidates", expanding=True)),
        jobs.c.state == JobState.WAITING.value,
    )
    .values(
        state=sa.bindparam("new_state"),
        code=sa.bindparam("new_code"),
        message=sa.bindparam("new_message"),
        updated_at=sa.bindparam("claimed", type_=jobs.c.claimed_at.type),
        worker_id=sa.bindparam("worker"),
        claimed_at=sa.bindparam("claimed", type_=jobs.c.claimed_at.type),
        lease_expires_at=sa.bindparam("lease_until", type_=jobs.c.lease_expires_at.type),
        deadline_at=sa.bindparam("deadline", type_=jobs.c.deadline_at.type),
        attempts=jobs.c.attempts + 1,
    )
    .returning(*jobs.c)
)

# The ends stamped after a time (normally none: a range of ix_jobs_ended that
# is empty unless an end was stamped after the claimer read its clock). No
# filter on the space here: with one, SQLite's planner walks the space's
# entries of ix_jobs_space_created instead (every job of the space).
ENDS_AFTER = sa.select(jobs.c.space_id, jobs.c.ended_at).where(
    jobs.c.ended_at > sa.bindparam("after", type_=jobs.c.ended_at.type)
)

DOCUMENT = sa.select(rule_versions.c.document).where(
    rule_versions.c.base_id == sa.bindparam("rule"),
    rule_versions.c.version == sa.bindparam("rule_version"),
)
