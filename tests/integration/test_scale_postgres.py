"""Scale and fault tests on PostgreSQL with real processes over sockets.

Every test starts its own deployment on a fresh database: two API processes
(``flowjobs serve --no-worker``) and three ``flowjobs worker`` processes, which
coordinate only through the database (LISTEN/NOTIFY wakes the workers), and
drives it with async httpx clients of bounded concurrency:

1. N jobs of a code-first flow from 32 clients over both APIs; each job runs
   exactly once (a counter row per jobId in the test's database).
2. parallelLimit 3 and 10 in two spaces, all workers competing.
3. A worker SIGKILLed while it runs 20 jobs: they end ZOMBIE_PROCESS within a
   lease and a few seconds; a ``retryOnWorkerLoss`` flow is run again instead.
4. Database connections terminated during a load: only 2xx or 503 problems,
   and the processes recover by themselves.
5. Cancels racing claims, completions and timeouts: one consistent outcome each.
6. cancelAll over 100,000 waiting jobs.

Sizes: N is 600 by default (the whole file takes about two to three minutes on
two cores); ``FLOWJOBS_LOAD_JOBS`` overrides it, and ``make test-load`` runs the
file with N = 5000. The figures observed (jobs/s, cancelAll duration) are
printed; run with ``-s`` to see them. No timing is asserted except the bounded
waits the brief of each test states.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from flowjobs.domain import KeyKind
from support.cluster import (
    FINAL,
    PROBLEM_JSON,
    Answer,
    Api,
    Cluster,
    drive,
    job_problems,
    sql,
    state_counts,
    until,
    wait_all_final,
    wait_logged,
)
from support.counter_handlers import COUNTER_TABLE
from support.env import Env, MakeEnv, flow

LOAD_JOBS = int(os.environ.get("FLOWJOBS_LOAD_JOBS", "600"))
CLIENTS = 32

COUNT_FLOW = {"name": "count", "alias": "count", "handler": "support.counter_handlers:count"}
TRACKED_FLOW = {
    "name": "tracked",
    "alias": "tracked",
    "handler": "support.counter_handlers:tracked_async",
}
RETRIED_FLOW = {
    "name": "retried",
    "alias": "retried",
    "handler": "support.counter_handlers:slow_first_time",
    "settings": {"retryOnWorkerLoss": 1},
}
BLINK_FLOW = {
    "name": "blink",
    "alias": "blink",
    "nodes": [
        {"id": "nap", "type": "wait", "seconds": "input.seconds"},
        {"id": "done", "type": "end", "output": "input"},
    ],
}
TIMEOUT_FLOW = {
    "name": "overdue",
    "alias": "overdue",
    "settings": {"timeoutSeconds": 0.3},
    "nodes": [{"id": "nap", "type": "wait", "seconds": 5}],
}


@pytest.fixture
def db_url(pg_url: str) -> str:
    """PostgreSQL only: the multi-process deployment these tests measure."""
    return pg_url


async def tenant(
    env: Env, name: str, documents: list[dict[str, Any]], *, parallel_limit: int = 1000
) -> tuple[str, str]:
    """A space with a Solver key and the flows published: (space id, secret)."""
    space = await env.catalog.create_space(name, parallel_limit=parallel_limit)
    created = await env.catalog.create_key(space.id, KeyKind.SOLVER, f"{name} key")
    for document in documents:
        await env.catalog.push_rule(space.id, document, publish=True)
    return space.id, created.secret


def is_store_problem(answer: Answer) -> bool:
    return (
        answer.status == 503
        and answer.content_type.startswith(PROBLEM_JSON)
        and isinstance(answer.body, dict)
        and answer.body.get("code") == "STORE_ERROR"
    )


def claims(cluster: Cluster) -> list[dict[str, Any]]:
    """The workers' ``claim`` lines of claimed jobs (not of failed claims)."""
    return [
        line for line in cluster.worker_logs() if line.get("action") == "claim" and "jobId" in line
    ]


def error_lines(cluster: Cluster) -> list[str]:
    """Error lines of every process: message and the last line of the traceback."""
    return [
        f"{line.get('message')}: {str(line.get('exception', '')).splitlines()[-1:]}"
        for line in cluster.all_logs()
        if line.get("level") in ("error", "critical")
    ]


# ---- 1. load: every job runs exactly once ---------------------------------------------


@pytest.mark.timeout(150 + LOAD_JOBS // 8)
async def test_load_every_started_job_completes_exactly_once(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env(handler_prefixes=["support"])
    _, secret = await tenant(env, "load", [COUNT_FLOW])
    await sql(db_url, COUNTER_TABLE)
    answers: list[Answer] = []
    with Cluster(db_url, tmp_path) as cluster:
        cluster.start()
        async with Api(cluster.base_urls, secret) as api:

            async def one(index: int, client: int) -> None:
                answers.append(await api.start(client, "count", {"dsn": db_url, "n": index}))

            began = time.monotonic()
            await drive(LOAD_JOBS, CLIENTS, one, timeout=60 + LOAD_JOBS / 10)
            start_s = time.monotonic() - began
            failed = [a for a in answers if not a.ok]
            assert not failed, f"{len(failed)} starts failed, e.g. {failed[:3]}"
            started = [a.job_id for a in answers]
            final = await wait_all_final(db_url, timeout=60 + LOAD_JOBS / 10)
            total_s = time.monotonic() - began
            sample = await asyncio.gather(*(api.info(i, j) for i, j in enumerate(started[:20])))
        claimed = Counter(line["jobId"] for line in claims(cluster))
        errors = error_lines(cluster)
    assert len(started) == len(set(started)) == LOAD_JOBS
    assert final == {"COMPLETED": LOAD_JOBS}  # no job lost, none extra, none left running
    counted = dict(await sql(db_url, "SELECT job_id, n FROM counter"))
    assert set(counted) == set(started)
    assert {n for n in counted.values()} == {1}, Counter(counted.values())
    assert set(claimed) == set(started) and set(claimed.values()) == {1}
    for answer in sample:
        assert answer.ok and not job_problems(answer.body), answer
        assert answer.body["output"] == [{"counted": answer.job_id}]
    print(
        f"\n[load] {LOAD_JOBS} jobs: started in {start_s:.1f} s "
        f"({LOAD_JOBS / start_s:.0f} starts/s), all completed after {total_s:.1f} s "
        f"({LOAD_JOBS / total_s:.0f} jobs/s end to end)"
    )
    assert not errors, f"{len(errors)} errors in the logs, e.g. {errors[:3]}"


# ---- 2. parallel limits per space, all workers competing --------------------------------


async def test_parallel_limits_hold_per_space_with_all_workers_competing(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env(handler_prefixes=["support"])
    limits: dict[str, int] = {}
    secrets: dict[str, str] = {}
    for name, limit in (("three", 3), ("ten", 10)):
        space_id, secrets[name] = await tenant(env, name, [TRACKED_FLOW], parallel_limit=limit)
        limits[space_id] = limit
    space_of = {name: sid for name, sid in zip(("three", "ten"), limits, strict=True)}
    files = {sid: tmp_path / f"{name}.counter" for name, sid in space_of.items()}
    plan = ["three", "ten", "ten"] * 24  # 24 jobs with limit 3, 48 with limit 10
    job_space: dict[str, str] = {}
    failed: list[Answer] = []
    with Cluster(db_url, tmp_path) as cluster:
        cluster.start(concurrency=8)  # 24 slots for 13 allowed at once
        async with (
            Api(cluster.base_urls, secrets["three"]) as three,
            Api(cluster.base_urls, secrets["ten"]) as ten,
        ):
            apis = {"three": three, "ten": ten}

            async def one(index: int, client: int) -> None:
                name = plan[index]
                # 1 s per job: even a slow start rate keeps 10 jobs of a space
                # running at once, so reaching the limit does not hang on load
                data = {"counter": str(files[space_of[name]]), "seconds": 1.0}
                answer = await apis[name].start(client, "tracked", data)
                if answer.ok:
                    job_space[answer.job_id] = space_of[name]
                else:  # asserted last, once the limits are checked
                    failed.append(answer)

            await drive(len(plan), 16, one, timeout=60)
            final = await wait_all_final(db_url, timeout=60)
        lines = claims(cluster)
        errors = error_lines(cluster)
    assert final == {"COMPLETED": len(job_space)}
    for space_id, limit in limits.items():
        observed = [int(n) for n in files[space_id].read_text().split()]
        assert max(observed) == limit, (limit, Counter(observed))  # reached, never passed
        assert observed[-1] == 0
        mine = [line for line in lines if line["spaceId"] == space_id]
        assert len(mine) == sum(1 for s in job_space.values() if s == space_id)
        assert max(line["runningInSpace"] for line in mine) <= limit
        assert {line["parallelLimit"] for line in mine} == {limit}
    assert sorted(line["jobId"] for line in lines) == sorted(job_space)  # each once
    assert len({line["worker"] for line in lines}) == 3  # every worker took part
    print(f"\n[limits] claims per worker: {Counter(line['worker'] for line in lines)}")
    # No start and no claim may fail either. (Claims lock the rows of several
    # spaces in no fixed order: PostgreSQL then detects deadlocks between two
    # claims, or between claims and a start waiting on its space's row.)
    assert not failed, f"{len(failed)} of {len(plan)} starts failed, e.g. {failed[:2]}"
    assert not errors, f"{len(errors)} errors in the logs, e.g. {errors[:3]}"


# ---- 3. a worker killed while it runs 20 jobs ---------------------------------------------


async def test_killed_worker_jobs_end_as_zombies_and_the_others_carry_on(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    lease = 2.0
    env = await make_env(handler_prefixes=["support"])
    _, secret = await tenant(env, "crash", [flow("long", 60), flow("quick", 0), RETRIED_FLOW])
    with Cluster(db_url, tmp_path, env={"FLOWJOBS_LEASE_SECONDS": str(lease)}) as cluster:
        cluster.spawn_apis("api0", "api1")
        (victim,) = cluster.spawn_workers("victim", concurrency=24)
        cluster.ready()
        victim_id = wait_logged(victim, "start", timeout=10)["worker"]
        async with Api(cluster.base_urls, secret) as api:
            long_ids: list[str] = []

            async def one(index: int, client: int) -> None:
                answer = await api.start(client, "long", {"n": index})
                assert answer.ok, answer
                long_ids.append(answer.job_id)

            await drive(20, 8, one, timeout=30)
            retried = await api.start(0, "retried", {"marker": str(tmp_path / "marker")})
            assert retried.ok, retried
            everyone = [*long_ids, retried.job_id]

            async def all_on_victim() -> bool:
                rows = await sql(
                    db_url,
                    "SELECT count(*) FROM jobs WHERE id = ANY(%s) AND state = 'RUNNING' "
                    "AND worker_id = %s",
                    (everyone, victim_id),
                )
                return bool(rows[0][0] == len(everyone))

            await until(all_on_victim, timeout=30)
            cluster.spawn_workers("w1", "w2")  # they find nothing to claim: all are running
            cluster.ready()
            os.kill(victim.process.pid, signal.SIGKILL)
            assert victim.process.wait(timeout=10) == -signal.SIGKILL
            killed = time.monotonic()

            async def all_reaped() -> bool:
                counts = await state_counts(db_url, long_ids)
                return counts == {"ERROR": len(long_ids)}

            await until(all_reaped, timeout=lease + 15, interval=0.05)
            reaped_s = time.monotonic() - killed
            jobs = await asyncio.gather(*(api.info(i, j) for i, j in enumerate(long_ids)))
            for answer in jobs:
                assert answer.ok and not job_problems(answer.body), answer
                assert answer.body["status"]["code"] == "ZOMBIE_PROCESS", answer.body["status"]

            async def retried_done() -> Answer | None:
                answer = await api.info(0, retried.job_id)
                return answer if answer.body["status"]["state"] in FINAL else None

            again = await until(retried_done, timeout=30)
            assert again.body["status"]["state"] == "COMPLETED", again.body
            assert again.body["output"] == [{"run": 2}]
            quick = await asyncio.gather(*(api.start(i, "quick", {"i": i}) for i in range(10)))
            assert all(a.ok for a in quick), quick
            await wait_all_final(db_url, [a.job_id for a in quick], timeout=30)
        counts = await state_counts(db_url)
        rows = await sql(
            db_url, "SELECT attempts, worker_id FROM jobs WHERE id = %s", (retried.job_id,)
        )
    assert rows[0][0] == 2 and rows[0][1] != victim_id, rows
    assert await state_counts(db_url, [a.job_id for a in quick]) == {"COMPLETED": 10}
    assert set(counts) <= FINAL, counts  # nothing stays RUNNING or WAITING
    assert reaped_s <= lease + 5, f"zombies reaped after {reaped_s:.1f} s"
    print(f"\n[kill] 20 jobs of the killed worker reaped {reaped_s:.2f} s after SIGKILL")


# ---- 4. database connections cut during a load ---------------------------------------------

TERMINATE = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = %s AND pid <> pg_backend_pid()"
)


async def test_cut_database_connections_give_503_problems_and_processes_recover(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env()
    _, secret = await tenant(env, "cuts", [flow("quick", 0.05)])
    admin_url = db_url.rsplit("/", 1)[0] + "/postgres"
    database = db_url.rsplit("/", 1)[1]
    answers: list[tuple[str, Answer]] = []
    accepted: list[str] = []
    terminated: list[int] = []
    with Cluster(db_url, tmp_path, env={"FLOWJOBS_LEASE_SECONDS": "3"}) as cluster:
        cluster.start(concurrency=8)
        async with Api(cluster.base_urls, secret, timeout=60) as api:
            stop = asyncio.Event()

            async def client(number: int) -> None:
                for index in range(2000):  # bounded; normally ended by ``stop``
                    if stop.is_set():
                        return
                    answer = await api.start(number, "quick", {"c": number, "i": index})
                    answers.append(("start", answer))
                    if answer.ok:
                        accepted.append(answer.job_id)
                        answers.append(("info", await api.info(number + 1, answer.job_id)))

            async def cutter() -> None:
                try:
                    for _ in range(3):
                        await asyncio.sleep(1.5)
                        rows = await sql(admin_url, TERMINATE, (database,))
                        terminated.append(int(rows[0][0]))
                    await asyncio.sleep(1.0)
                finally:
                    stop.set()

            await asyncio.wait_for(
                asyncio.gather(cutter(), *(client(c) for c in range(16))), timeout=90
            )
            bad = [(kind, a) for kind, a in answers if not (a.ok or is_store_problem(a))]
            assert not bad, f"{len(bad)} answers neither 2xx nor a 503 problem: {bad[:5]}"
            await asyncio.sleep(0.5)
            after = await asyncio.gather(*(api.start(i, "quick", {"after": i}) for i in range(20)))
            assert all(a.ok for a in after), [a for a in after if not a.ok][:5]
            accepted.extend(a.job_id for a in after)
            began = time.monotonic()
            final = await wait_all_final(db_url, accepted, timeout=45)
            settle_s = time.monotonic() - began
            sample = await asyncio.gather(*(api.info(i, j) for i, j in enumerate(accepted[-20:])))
        procs = [*cluster.apis, *cluster.workers]
        exited = [p.log_path.name for p in procs if p.process.poll() is not None]
    assert not exited, f"processes exited during the cuts: {exited}"
    assert all(n > 0 for n in terminated), terminated  # each cut really hit connections
    assert all(a.ok and not job_problems(a.body) for a in sample), sample
    unavailable = sum(1 for _, a in answers if is_store_problem(a))
    print(
        f"\n[cuts] backends terminated per cut: {terminated}; answers: {len(answers)} "
        f"({unavailable} x 503 STORE_ERROR); accepted jobs: {len(accepted)} ended {final} "
        f"within {settle_s:.1f} s of the recovery"
    )


# ---- 5. cancels racing claims, completions and timeouts -----------------------------------


async def test_cancels_racing_claims_completions_and_timeouts_have_one_outcome(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env()
    _, secret = await tenant(env, "races", [BLINK_FLOW, TIMEOUT_FLOW])
    rng = random.Random(20240607)
    # (alias, input, delay before the cancel): the delays straddle the claim
    # (0 s), the end of the wait (0.05 to 0.2 s) and the 0.3 s timeout.
    plan: list[tuple[str, dict[str, Any], float]] = [
        ("blink", {"seconds": rng.choice([0, 0.05, 0.1, 0.2])}, rng.choice([0, rng.random() / 3]))
        for _ in range(150)
    ] + [("overdue", {}, 0.2 + rng.random() * 0.3) for _ in range(30)]
    rng.shuffle(plan)
    first: dict[str, Answer] = {}
    with Cluster(db_url, tmp_path) as cluster:
        cluster.start(concurrency=16)
        async with Api(cluster.base_urls, secret) as api:

            async def one(index: int, client: int) -> None:
                alias, data, delay = plan[index]
                started = await api.start(client, alias, data)
                assert started.ok, started
                if delay:
                    await asyncio.sleep(delay)
                first[started.job_id] = await api.cancel(client + 1, started.job_id)

            await drive(len(plan), CLIENTS, one, timeout=90)
            await wait_all_final(db_url, list(first), timeout=30)
            before = await sql(
                db_url,
                "SELECT id, state, code, ended_at FROM jobs WHERE id = ANY(%s)",
                (list(first),),
            )
            await asyncio.sleep(1.0)  # a late second writer would show now
            after = await sql(
                db_url,
                "SELECT id, state, code, ended_at FROM jobs WHERE id = ANY(%s)",
                (list(first),),
            )
            final = await asyncio.gather(*(api.info(i, j) for i, j in enumerate(first)))
            second = await asyncio.gather(*(api.cancel(i, j) for i, j in enumerate(first)))
        claimed = Counter(line["jobId"] for line in claims(cluster))
    assert sorted(before) == sorted(after)  # one final outcome each, never rewritten
    problems: list[str] = []
    outcomes: Counter[tuple[str, str]] = Counter()
    for job, again in zip(final, second, strict=True):
        assert job.ok, job
        answer = first[job.job_id]
        answered = answer.body["status"]["state"] if answer.status == 200 else str(answer.status)
        outcomes[(answered, job.body["status"]["state"])] += 1
        problems += job_problems(job.body) + cancel_problems(job.body, answer, again)
        if claimed[job.job_id] > 1:
            problems.append(f"{job.job_id}: claimed {claimed[job.job_id]} times")
    assert not problems, "\n".join(problems[:20])
    print(f"\n[races] (cancel answer, final state): {dict(sorted(outcomes.items()))}")


def cancel_problems(job: dict[str, Any], first: Answer, again: Answer) -> list[str]:
    """Whether the cancel answers agree with how the job ended: 409 only for a
    COMPLETED or ERROR job; CANCELING or CANCELED only for a job that ends
    CANCELED; a second cancel after the end: 200 if CANCELED, else 409."""
    job_id, state = job["jobId"], job["status"]["state"]
    problems = []
    if first.status == 409:
        if state not in ("COMPLETED", "ERROR"):
            problems.append(f"{job_id}: cancel answered 409 but the job ended {state}")
    elif first.status == 200:
        answered = first.body["status"]["state"]
        if answered not in ("CANCELING", "CANCELED"):
            problems.append(f"{job_id}: cancel answered 200 with state {answered}")
        elif state != "CANCELED":
            problems.append(f"{job_id}: cancel answered {answered} but the job ended {state}")
    else:
        problems.append(f"{job_id}: cancel answered {first.status} {first.body}")
    if again.status != (200 if state == "CANCELED" else 409):
        problems.append(f"{job_id}: a second cancel of a {state} job answered {again.status}")
    return problems


# ---- 6. cancelAll over 100,000 waiting jobs ---------------------------------------------

WAITING_COPIES = 100_000


async def test_cancel_all_in_a_space_of_100k_waiting_jobs(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env()
    space_id, secret = await tenant(env, "bulk", [flow("long", 60)], parallel_limit=1)
    with Cluster(db_url, tmp_path) as cluster:
        cluster.start(concurrency=4)
        async with Api(cluster.base_urls, secret, timeout=120) as api:
            blocker = await api.start(0, "long", {"blocks": "the only slot"})
            assert blocker.ok, blocker

            async def blocking() -> bool:
                return (await state_counts(db_url, [blocker.job_id])) == {"RUNNING": 1}

            await until(blocking, timeout=30)
            template = await api.start(1, "long", {"template": True})
            assert template.ok and template.body["status"]["state"] == "WAITING", template
            columns = [
                str(name)
                for (name,) in await sql(
                    db_url,
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'jobs' AND table_schema = current_schema() "
                    "ORDER BY ordinal_position",
                )
            ]
            fresh = {
                "id": "gen_random_uuid()::text",
                "correlation_id": "gen_random_uuid()::text",
                "created_at": "created_at + g * interval '1 microsecond'",
            }
            chosen = ", ".join(fresh.get(c, c) for c in columns)
            began = time.monotonic()
            await sql(
                db_url,
                f"INSERT INTO jobs ({', '.join(columns)}) SELECT {chosen} "
                "FROM jobs, generate_series(1, %s) AS g WHERE id = %s",
                (WAITING_COPIES, template.job_id),
            )
            insert_s = time.monotonic() - began
            assert await state_counts(db_url) == {"RUNNING": 1, "WAITING": WAITING_COPIES + 1}
            began = time.monotonic()
            answer = await api.call(0, "POST", f"/job/cancelAll/space/{space_id}")
            cancel_s = time.monotonic() - began
            assert answer.ok, answer
            assert answer.body == {
                "spaceId": space_id,
                "canceledCount": WAITING_COPIES + 1,
                "cancelingCount": 0,
            }
            assert await state_counts(db_url) == {"RUNNING": 1, "CANCELED": WAITING_COPIES + 1}
            canceled = await api.cancel(0, blocker.job_id)
            assert canceled.ok and canceled.body["status"]["state"] == "CANCELING", canceled
            await wait_all_final(db_url, [blocker.job_id], timeout=15)
            job = await api.info(1, template.job_id)
            assert job.ok and not job_problems(job.body), job
    assert await state_counts(db_url) == {"CANCELED": WAITING_COPIES + 2}
    print(
        f"\n[cancelAll] inserted {WAITING_COPIES} waiting jobs in {insert_s:.1f} s; "
        f"POST /job/cancelAll/space answered canceledCount {WAITING_COPIES + 1} "
        f"after {cancel_s:.2f} s"
    )
