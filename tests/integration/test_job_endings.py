"""The batched end path on real SQLite and PostgreSQL: many jobs' endings in
one transaction (JobManager.end_jobs, through the worker's EndingBatcher),
each ending as its own conditional update would have: a cancel that reached
a job first wins, a job its worker no longer holds is left alone, and every
job that moved writes its webhook events and usage exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from flowjobs import domain
from flowjobs.domain import JobDetails, JobEnding, JobState, JobStatusCode, WebhookEvent
from flowjobs.store.tables import jobs
from flowjobs.worker import Worker
from flowjobs.worker.endings import EndingBatcher
from support.env import MakeEnv, flow
from support.webhooks import FAST_WEBHOOKS, create, service

URL = "http://127.0.0.1:9/hook"  # never called here: nothing dispatches


def _details(step: str) -> JobDetails:
    trace = {"entries": [{"node": step}], "truncated": False}
    return JobDetails(trace=trace, logs=[{"message": step}], logs_dropped=1)


async def test_many_endings_in_one_batch_each_end_right(make_env: MakeEnv) -> None:
    env = await make_env(**FAST_WEBHOOKS)
    hooks = service(env)
    m = env.manager
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    await create(hooks, space.id, URL, "every")
    started = [await m.start(key, "f", None, {"n": i}) for i in range(8)]
    claimed = {c.job.id for c in await m.claim("w", 7)}
    assert len(claimed) == 7
    ids = [j.id for j in started]
    done, failed, raced, released, stopped, lost, elsewhere, waiting = ids
    assert waiting not in claimed
    # A cancel reaches `raced` and `stopped` before their ends are written.
    assert (await m.cancel(key, raced)).state is JobState.CANCELING
    assert (await m.cancel(key, stopped)).state is JobState.CANCELING
    # `lost`'s worker no longer holds it: its lease ran out, another worker took it.
    async with env.store.db.write() as conn:
        await conn.execute(jobs.update().where(jobs.c.id == lost).values(worker_id="other"))

    error = domain.error_detail(domain.execution_error("boom"), node_id="n1")
    shutdown = domain.system_canceled("The worker shut down")
    progress = {"done": 100, "total": 100}
    endings = [
        JobEnding(done, "w", domain.COMPLETED, output=[{"ok": 1}], details=_details("a"),
                  progress=progress),
        JobEnding(failed, "w", domain.execution_error("boom"), error=error, details=_details("b")),
        JobEnding(raced, "w", domain.COMPLETED, output=[{"late": True}], details=_details("c")),
        JobEnding(released, "w", shutdown),
        JobEnding(stopped, "w", None, details=_details("d")),
        JobEnding(lost, "w", domain.COMPLETED, output=[0]),
        JobEnding(elsewhere, "not-w", domain.COMPLETED, output=[0]),
        JobEnding(waiting, "w", domain.COMPLETED, output=[0]),
    ]  # fmt: skip
    batcher = EndingBatcher(m.end_jobs)
    states = await asyncio.gather(*(batcher.end(e) for e in endings))

    assert batcher.batches == 1  # every ending queued in the same moment: one transaction
    assert states == [
        JobState.COMPLETED,
        JobState.ERROR,
        JobState.CANCELED,  # the cancel won: canceled, not completed
        JobState.CANCELED,
        JobState.CANCELED,
        None,  # held by another worker now: untouched
        None,  # never held by "w"
        None,  # still waiting: never claimed
    ]
    jobs_now = {j.id: j for j in await env.store.get_jobs(ids)}
    first = jobs_now[done]
    assert (first.state, first.code, first.output) == (
        JobState.COMPLETED,
        JobStatusCode.JOB_SUCCESS,
        [{"ok": 1}],
    )
    assert first.progress == progress and first.ended_at is not None
    assert (jobs_now[failed].state, jobs_now[failed].error) == (JobState.ERROR, error)
    assert jobs_now[failed].output is None
    for job_id in (raced, stopped):  # as a cancel leaves it: no output, no error
        job = jobs_now[job_id]
        assert (job.state, job.code, job.output, job.error) == (
            JobState.CANCELED,
            JobStatusCode.JOB_USER_CANCELED,
            None,
            None,
        )
    assert (jobs_now[released].code, jobs_now[released].message) == (
        JobStatusCode.JOB_SYSTEM_CANCELED,
        "The worker shut down",
    )
    assert jobs_now[lost].state is JobState.RUNNING and jobs_now[lost].worker_id == "other"
    assert jobs_now[elsewhere].state is JobState.RUNNING
    assert jobs_now[waiting].state is JobState.WAITING
    # The final trace and logs are saved with the end, in save_details' shape.
    saved = await m.details(key, done)
    assert saved.trace == _details("a").trace and saved.logs == [{"message": "a"}]
    assert saved.logs_dropped == 1
    assert (await m.details(key, stopped)).trace == _details("d").trace
    # One webhook event per job that ended, for the state it ended in; none for the others.
    for job_id in ids:
        events = [d.event_type for d in await hooks.job_deliveries(space.id, job_id)]
        ended = jobs_now[job_id].state in domain.FINAL_STATES
        assert events == ([f"JOB.{jobs_now[job_id].state.value}"] if ended else []), job_id
    # Usage counts each job that ran and ended once; the untouched ones not at all.
    ran = [jobs_now[i] for i in (done, failed, raced, released, stopped)]
    expected = sum((j.ended_at - j.claimed_at).total_seconds() for j in ran)  # type: ignore[operator]
    used = await env.store.month_usage(space.id, domain.month_of(first.ended_at))  # type: ignore[arg-type]
    assert abs(used.used_seconds - expected) < 1e-6
    # Writing the same endings again moves nothing and records nothing more.
    assert await m.end_jobs(endings) == [None] * len(endings)
    assert await env.store.month_usage(space.id, domain.month_of(first.ended_at)) == used  # type: ignore[arg-type]
    assert len(await hooks.job_deliveries(space.id, done)) == 1


async def test_endings_racing_cancels_give_exactly_one_end_each(make_env: MakeEnv) -> None:
    env = await make_env(**FAST_WEBHOOKS)
    hooks = service(env)
    m = env.manager
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    await create(hooks, space.id, URL, "every", events=list(WebhookEvent))
    for _ in range(12):
        await m.start(key, "f", None, {})
    claimed = [c.job.id for c in await m.claim("w", 12)]
    batcher = EndingBatcher(m.end_jobs)

    async def end(job_id: str) -> JobState | None:
        return await batcher.end(JobEnding(job_id, "w", domain.COMPLETED, output=[1]))

    results = await asyncio.gather(
        *(end(i) for i in claimed),
        *(m.cancel(key, i) for i in claimed[::2]),
        return_exceptions=True,
    )
    for job_id, state in zip(claimed, results[: len(claimed)], strict=True):
        final = await m.info(key, job_id)
        assert final.state in domain.FINAL_STATES  # never left CANCELING
        assert state is final.state
        events = [d.event_type for d in await hooks.job_deliveries(space.id, job_id)]
        assert events == [f"JOB.{final.state.value}"]


async def test_a_worker_ends_its_jobs_in_batches_with_their_traces(make_env: MakeEnv) -> None:
    env = await make_env(concurrency=16)
    space, key = await env.space_with_key("s", parallel_limit=1000)
    await env.push(space, flow("f"))
    started = [await env.manager.start(key, "f", None, {"n": i}) for i in range(48)]
    worker = Worker(env.manager, env.settings, burst=True)  # stops once the queue is empty
    worker.start()
    await asyncio.wait_for(worker.wait_stopped(), 60)

    for job in started:
        ended = await env.manager.info(key, job.id)
        assert (ended.state, ended.output) == (JobState.COMPLETED, [{"n": job.input["n"]}])
        trace = (await env.manager.details(key, job.id)).trace
        assert trace is not None and trace["entries"], job.id  # the final trace is saved
    # Sixteen flows end in the same moment, so their ends share transactions.
    assert worker.endings.batches < len(started)


async def test_a_batch_bills_its_seconds_against_each_spaces_quota(make_env: MakeEnv) -> None:
    """Usage of a batch is summed per space and billed as one increment each:
    up to the quota without pay-as-you-go, every second with it; a space
    without webhooks gets no outbox rows."""
    env = await make_env(**FAST_WEBHOOKS)
    hooks = service(env)
    capped, capped_key = await env.space_with_key("capped")
    paying, paying_key = await env.space_with_key("paying")
    for space in (capped, paying):
        await env.push(space, flow("f"))
    await env.catalog.update_space_billing(capped.id, quota_seconds=100)
    await env.catalog.update_space_billing(paying.id, quota_seconds=100, pay_as_you_go=True)
    t0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
    for key in (capped_key, paying_key, capped_key, paying_key, capped_key):
        await env.manager.start(key, "f", None, {})
    held = await env.store.claim("w", 5, lambda: t0, 60, domain.RUNNING)
    by_space: dict[str, list[str]] = {}
    for c in held:
        by_space.setdefault(c.job.space_id, []).append(c.job.id)
    first = [by_space[capped.id][0], by_space[capped.id][1], by_space[paying.id][0]]
    later = [by_space[capped.id][2], by_space[paying.id][1]]

    async def end(ids: list[str], seconds: float) -> dict[str, domain.Status]:
        endings = [JobEnding(i, "w", domain.COMPLETED, output=[1]) for i in ids]
        now = t0 + timedelta(seconds=seconds)
        written = await env.store.end_jobs(endings, now, domain.USER_CANCELED)
        return written.moved

    assert set(await end(first, 70)) == set(first)  # capped: 140 s used, 100 billed
    assert set(await end(later, 30.5)) == set(later)  # capped: over the quota, none billed
    assert await env.store.month_usage(capped.id, "2026-06") == domain.MonthUsage(170.5, 100)
    assert await env.store.month_usage(paying.id, "2026-06") == domain.MonthUsage(100.5, 100.5)
    for job_id in first + later:
        assert (await env.store.get_jobs([job_id]))[0].state is JobState.COMPLETED
        assert await hooks.job_deliveries(capped.id, job_id) == []


async def test_a_batch_queues_events_only_for_the_webhooks_that_want_them(
    make_env: MakeEnv,
) -> None:
    env = await make_env(**FAST_WEBHOOKS)
    hooks = service(env)
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    await env.push(space, flow("g"))
    every = await create(hooks, space.id, URL, "every")
    errors = await create(hooks, space.id, URL, "errors", events=[WebhookEvent.JOB_ERROR])
    only_g = await create(hooks, space.id, URL, "only-g", rules=["g"])
    await create(hooks, space.id, URL, "off", enabled=False)
    f_done = await env.manager.start(key, "f", None, {})
    g_done = await env.manager.start(key, "g", None, {})
    f_failed = await env.manager.start(key, "f", None, {})
    assert len(await env.manager.claim("w", 3)) == 3
    endings = [
        JobEnding(f_done.id, "w", domain.COMPLETED, output=[1]),
        JobEnding(g_done.id, "w", domain.COMPLETED, output=[1]),
        JobEnding(f_failed.id, "w", domain.execution_error("boom"), error={"code": "x"}),
    ]
    written = await env.store.end_jobs(endings, datetime.now(UTC), domain.USER_CANCELED)

    assert written.deliveries == 5
    expected = {
        f_done.id: {(every.webhook.id, "JOB.COMPLETED")},
        g_done.id: {(every.webhook.id, "JOB.COMPLETED"), (only_g.webhook.id, "JOB.COMPLETED")},
        f_failed.id: {(every.webhook.id, "JOB.ERROR"), (errors.webhook.id, "JOB.ERROR")},
    }
    for job_id, wanted in expected.items():
        found = await hooks.job_deliveries(space.id, job_id)
        assert {(d.webhook_id, d.event_type) for d in found} == wanted, job_id
        assert all(d.state is domain.DeliveryState.PENDING and d.attempts == 0 for d in found)
