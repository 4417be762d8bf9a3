"""Query plans of the hot queries on a PostgreSQL database with a million jobs.

Creates a uniquely named database on the server (dropped at the end), builds
the schema with the migrations, fills it with ``--finished`` finished jobs
(ended over the last 90 days) plus a few thousand waiting and running ones
across ``--spaces`` spaces (``INSERT ... SELECT generate_series``), runs
``VACUUM ANALYZE`` and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of each hot query.
Writes are explained inside a transaction that is rolled back.

The statements are built here with the same SQLAlchemy Core expressions as
the parts of ``flowjobs/store/`` (the prune batch is the store's own
``SqlStore.prune_batch``), compiled for PostgreSQL with literal values.

Usage: ``python bench/explain.py [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
[--revision 0006]`` (``--revision``: the schema to explain, default the newest).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from flowjobs.domain import ACTIVE_STATES, JobState
from flowjobs.store import SqlStore, upgrade
from flowjobs.store.tables import jobs, spaces

ACTIVE = sorted(s.value for s in ACTIVE_STATES)


def uuid7_sql(created_at: str, seed: str) -> str:
    """SQL for a job id shaped as the API makes it (flowjobs.ids, a version 7
    UUID as text): the Unix ms of ``created_at`` first, so ids follow
    created_at; the other bits from md5(``seed``), unique per row."""
    return (
        f"(lpad(to_hex(floor(extract(epoch FROM {created_at}) * 1000)::bigint), 12, '0') || '7' "
        f"|| substr(md5({seed}), 1, 3) || '8' || substr(md5({seed}), 4, 15))::uuid::text"
    )


NOW = datetime.now(UTC)

FILL = """
INSERT INTO spaces (id, name, parallel_limit, priority, created_at)
SELECT 'space-' || g, 'space ' || g, 8, 0, now() - interval '1 year'
FROM generate_series(0, %(spaces)s - 1) AS g;

-- Finished jobs: 80 %% COMPLETED, 10 %% ERROR, 10 %% CANCELED, ended over 90 days;
-- oldest first, as the API creates them (ids are version 7 UUIDs of created_at).
INSERT INTO jobs (id, space_id, base_id, version, rule_type, correlation_id, input, output,
                  state, code, message, priority, parallel_limit, environment_group,
                  api_key_id, api_key_name, execution_limit_s, created_at, updated_at,
                  claimed_at, ended_at, worker_id, lease_expires_at, deadline_at, attempts)
SELECT {finished_id}, 'space-' || (g %% %(spaces)s), 'rule-' || (g %% %(spaces)s), 1,
       'integration-flow', md5('c' || g), '{"n": 1}', '[{"ok": true}]',
       CASE WHEN g %% 10 = 0 THEN 'ERROR' WHEN g %% 10 = 1 THEN 'CANCELED' ELSE 'COMPLETED' END,
       CASE WHEN g %% 10 = 0 THEN 'JOB_EXECUTION_ERROR'
            WHEN g %% 10 = 1 THEN 'JOB_USER_CANCELED' ELSE 'JOB_SUCCESS' END,
       'done', g %% 3, 8, 'production', 'key', 'key', 86400,
       e - interval '1 minute', e, e - interval '50 seconds', e,
       'old-worker', NULL, e + interval '1 day', 1
FROM (SELECT g, now() - (g::float / %(finished)s) * interval '90 days' AS e
      FROM generate_series(1, %(finished)s) AS g) AS t
ORDER BY g DESC;

-- Waiting jobs, and 4 running (plus 1 canceling) per space held by 8 workers.
INSERT INTO jobs (id, space_id, base_id, version, rule_type, correlation_id, input,
                  state, code, message, priority, parallel_limit, environment_group,
                  api_key_id, api_key_name, execution_limit_s, created_at, updated_at, attempts)
SELECT {waiting_id}, 'space-' || (g %% %(spaces)s), 'rule-' || (g %% %(spaces)s), 1,
       'integration-flow', md5('cw' || g), '{"n": 1}', 'WAITING', 'JOB_INITIALIZED',
       'Job initialized', g %% 3, 8, 'production', 'key', 'key', 86400,
       now() - g * interval '1 second', now() - g * interval '1 second', 0
FROM generate_series(1, %(waiting)s) AS g
ORDER BY g DESC;

INSERT INTO jobs (id, space_id, base_id, version, rule_type, correlation_id, input,
                  state, code, message, priority, parallel_limit, environment_group,
                  api_key_id, api_key_name, execution_limit_s, created_at, updated_at,
                  claimed_at, worker_id, lease_expires_at, deadline_at, attempts)
SELECT {running_id}, 'space-' || (g %% %(spaces)s), 'rule-' || (g %% %(spaces)s), 1,
       'integration-flow', md5('cr' || g), '{"n": 1}',
       CASE WHEN g <= %(spaces)s * 4 THEN 'RUNNING' ELSE 'CANCELING' END, 'JOB_RUNNING',
       'Job is being processed', 0, 8, 'production', 'key', 'key', 86400,
       now() - interval '1 minute', now(), now() - interval '1 minute', 'worker-' || (g %% 8),
       now() + interval '30 seconds', now() + interval '1 day', 1
FROM generate_series(1, %(spaces)s * 5) AS g;
"""
FILL = (
    FILL.replace("{finished_id}", uuid7_sql("e - interval '1 minute'", "'f' || g"))
    .replace("{waiting_id}", uuid7_sql("now() - g * interval '1 second'", "'w' || g"))
    .replace("{running_id}", uuid7_sql("now() - interval '1 minute'", "'r' || g"))
)


def sql(statement: sa.ClauseElement) -> str:
    compiled = statement.compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True, "render_postcompile": True},
    )
    return str(compiled)


def hot_queries(n_spaces: int, job_id: str, running_ids: list[str]) -> list[tuple[str, str, bool]]:
    """(name, SQL, is a write) of every hot query, as the store builds it;
    ``job_id`` a waiting job of space-7, ``running_ids`` running jobs
    (:func:`sample_ids`)."""
    free_spaces = [f"space-{i}" for i in range(n_spaces)]
    running = (
        sa.select(jobs.c.space_id, sa.func.count().label("n"))
        .where(jobs.c.state.in_(ACTIVE))
        .group_by(jobs.c.space_id)
        .subquery()
    )
    waiting = {"state": "CANCELED", "code": "JOB_USER_CANCELED", "message": "Job was canceled"}
    ended = waiting | {"updated_at": NOW, "ended_at": NOW, "lease_expires_at": None}
    return [
        (
            "claim: free slots of every space (SqlStore._free_slots)",
            sql(
                sa.select(
                    spaces.c.id, spaces.c.parallel_limit, sa.func.coalesce(running.c.n, 0)
                ).outerjoin(running, running.c.space_id == spaces.c.id)
            ),
            False,
        ),
        (
            "claim: pick (SqlStore._claim_one)",
            sql(
                sa.select(jobs.c.id, jobs.c.space_id, jobs.c.execution_limit_s)
                .where(jobs.c.state == JobState.WAITING.value, jobs.c.space_id.in_(free_spaces))
                .order_by(jobs.c.priority.desc(), jobs.c.created_at)
                .limit(1)
                .with_for_update(skip_locked=True, of=jobs)
            ),
            True,
        ),
        (
            "claim: running count of one space (SqlStore._space_load)",
            sql(
                sa.select(sa.func.count()).where(
                    jobs.c.space_id == "space-7", jobs.c.state.in_(ACTIVE)
                )
            ),
            False,
        ),
        (
            "GET /job/{id}: by id and space (SqlStore.get_job)",
            sql(jobs.select().where(jobs.c.id == job_id, jobs.c.space_id == "space-7")),
            False,
        ),
        (
            "cancel one: conditional update (SqlStore.transition)",
            sql(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.state.in_([JobState.WAITING.value]),
                    jobs.c.space_id == "space-7",
                )
                .values(**ended)
            ),
            True,
        ),
        (
            "cancelAll: waiting jobs of a space (SqlStore.cancel_many)",
            sql(
                jobs.update()
                .where(jobs.c.space_id == "space-7", jobs.c.state == JobState.WAITING.value)
                .values(**ended)
            ),
            True,
        ),
        (
            "heartbeat: a worker's leases (SqlStore.heartbeat)",
            sql(
                jobs.update()
                .where(
                    jobs.c.id.in_(running_ids),
                    jobs.c.worker_id == "worker-0",
                    jobs.c.state.in_(ACTIVE),
                )
                .values(lease_expires_at=NOW + timedelta(seconds=30))
                .returning(jobs.c.id, jobs.c.state)
            ),
            True,
        ),
        (
            "watch: a worker's canceling jobs (SqlStore.canceling_jobs)",
            sql(
                sa.select(jobs.c.id).where(
                    jobs.c.worker_id == "worker-3", jobs.c.state == JobState.CANCELING.value
                )
            ),
            False,
        ),
        (
            "reap: expired leases (SqlStore.expired_leases)",
            sql(
                sa.select(jobs.c.id, jobs.c.state).where(
                    jobs.c.state.in_(ACTIVE), jobs.c.lease_expires_at < NOW
                )
            ),
            False,
        ),
        (
            "reap: past deadline (SqlStore.past_deadline)",
            sql(
                sa.select(jobs.c.id, jobs.c.execution_limit_s).where(
                    jobs.c.state == JobState.RUNNING.value,
                    jobs.c.deadline_at < NOW - timedelta(seconds=30),
                )
            ),
            False,
        ),
        (
            "cancelAll: waiting jobs of a rule version (SqlStore.cancel_many)",
            sql(
                jobs.update()
                .where(
                    jobs.c.space_id == "space-7",
                    jobs.c.base_id == "rule-7",
                    jobs.c.version == 1,
                    jobs.c.state == JobState.WAITING.value,
                )
                .values(**ended)
            ),
            True,
        ),
        (
            "start cap: waiting jobs of a space (SqlStore.count_waiting)",
            sql(
                sa.select(sa.func.count()).where(
                    jobs.c.space_id == "space-7", jobs.c.state == JobState.WAITING.value
                )
            ),
            False,
        ),
        (
            "list: a space's jobs, second page (SqlStore.list_jobs)",
            sql(
                sa.select(*(c for c in jobs.c if c.name not in ("input", "output")))
                .where(
                    jobs.c.space_id == "space-7",
                    sa.tuple_(jobs.c.created_at, jobs.c.id)
                    < sa.tuple_(
                        sa.literal(NOW - timedelta(days=1), jobs.c.created_at.type),
                        sa.literal(job_id, jobs.c.id.type),
                    ),
                )
                .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
                .limit(50)
            ),
            False,
        ),
        (
            "list: a space's failed jobs (SqlStore.list_jobs, states filter)",
            sql(
                sa.select(jobs.c.id)
                .where(jobs.c.space_id == "space-7", jobs.c.state.in_(["ERROR"]))
                .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
                .limit(50)
            ),
            False,
        ),
        (
            "dashboard: a space's jobs per state (SqlStore.job_counts)",
            sql(
                sa.select(jobs.c.state, sa.func.count())
                .where(jobs.c.space_id == "space-7")
                .group_by(jobs.c.state)
            ),
            False,
        ),
        (
            "usage: a space's jobs of a month per state (usage.job_counts)",
            sql(
                sa.select(jobs.c.state, sa.func.count())
                .where(
                    jobs.c.space_id == "space-7",
                    jobs.c.created_at >= NOW - timedelta(days=30),
                    jobs.c.created_at < NOW,
                )
                .group_by(jobs.c.state)
            ),
            False,
        ),
        (
            "dashboard: finished per minute, last 24 h (SqlStore.finished_per_minute)",
            sql(
                sa.select(sa.func.count()).where(
                    jobs.c.space_id == "space-7", jobs.c.ended_at >= NOW - timedelta(hours=24)
                )
            ),
            False,
        ),
        (
            "/metrics: queue depths (SqlStore.queue_depths)",
            sql(
                sa.select(spaces.c.name, jobs.c.state, sa.func.count(jobs.c.id))
                .select_from(
                    spaces.outerjoin(
                        jobs,
                        sa.and_(
                            jobs.c.space_id == spaces.c.id,
                            jobs.c.state.in_([JobState.WAITING.value, *ACTIVE]),
                        ),
                    )
                )
                .group_by(spaces.c.name, jobs.c.state)
            ),
            False,
        ),
        (
            "start with Idempotency-Key: the key's job (SqlStore.find_idempotent)",
            sql(
                jobs.select().where(
                    jobs.c.space_id == "space-7",
                    jobs.c.idempotency_key == "key-1",
                    jobs.c.created_at >= NOW - timedelta(hours=24),
                )
            ),
            False,
        ),
        (
            "rule deletion: a version's jobs in use (rules.delete_versions)",
            sql(
                sa.select(sa.func.count()).where(
                    jobs.c.base_id == "rule-7",
                    jobs.c.version.in_([1]),
                    jobs.c.state.in_(["WAITING", *ACTIVE]),
                )
            ),
            False,
        ),
        (
            "prune: one batch of 5000, retention 30 days (SqlStore.prune_batch)",
            sql(SqlStore.prune_batch(NOW - timedelta(days=30), 5000)),
            True,
        ),
    ]


def sample_ids(url: str, n_spaces: int) -> tuple[str, list[str]]:
    """The ids :func:`hot_queries` names, found by their correlation ids
    (md5 of their row number) since ids carry the fill's clock: waiting job 7
    (in space-7) and up to 16 running jobs held by worker-0."""
    wanted = [_md5(f"cr{g}") for g in range(8, n_spaces * 4, 8)][:16]
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT id FROM jobs WHERE correlation_id = %s", (_md5("cw7"),))
        job_id = str(found.fetchone()[0])  # type: ignore[index]
        running = conn.execute(
            "SELECT id FROM jobs WHERE correlation_id = ANY(%s) ORDER BY id", (wanted,)
        )
        return job_id, [str(r[0]) for r in running.fetchall()]


def _md5(text: str) -> str:
    import hashlib

    return hashlib.md5(text.encode()).hexdigest()


@contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    name = f"flowjobs_explain_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def fill(url: str, params: dict[str, Any]) -> None:
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET statement_timeout = '300s'")
        for statement in FILL.split(";\n\n"):
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")
        count = conn.execute("SELECT count(*) FROM jobs").fetchone()
    print(f"-- filled {count[0] if count else '?'} jobs in {time.monotonic() - started:.0f} s\n")


def explain(url: str, queries: list[tuple[str, str, bool]]) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("SET statement_timeout = '60s'")
        for name, statement, _write in queries:
            rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}").fetchall()
            conn.rollback()  # writes are measured, never kept
            print(f"== {name}\n{statement}\n")
            print("\n".join(r[0] for r in rows), end="\n\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--finished", type=int, default=1_000_000)
    parser.add_argument("--waiting", type=int, default=3_000)
    parser.add_argument("--spaces", type=int, default=50)
    parser.add_argument(
        "--revision", default="head", help="schema revision to explain, e.g. 0006 (before 0007)"
    )
    args = parser.parse_args()
    with scratch_database(args.admin_url) as url:
        upgrade(url, args.revision)
        fill(url, {"finished": args.finished, "waiting": args.waiting, "spaces": args.spaces})
        explain(url, hot_queries(args.spaces, *sample_ids(url, args.spaces)))


if __name__ == "__main__":
    main()
