"""Usage and quotas on real SQLite and PostgreSQL: seconds recorded when jobs end,
billing against the quota, the 402 at start, the usage report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from flowjobs import domain
from flowjobs.clock import utcnow
from flowjobs.domain import ApiKey, JobState, Space
from flowjobs.errors import InvalidMonthError, QuotaExceededError, SpaceNotFoundError
from flowjobs.usage import UsageService
from support.env import Env, MakeEnv, flow

WORKER = "w"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def claim(env: Env, job_id: str, claimed_at: datetime) -> None:
    """Claim the one waiting job, as a worker would at ``claimed_at``."""
    [held] = await env.store.claim(
        WORKER, 1, lambda: claimed_at, env.settings.lease_seconds, domain.RUNNING
    )
    assert held.job.id == job_id


async def end(env: Env, job_id: str, status: domain.Status, ended_at: datetime) -> None:
    expect = [JobState.RUNNING, JobState.CANCELING]
    assert await env.store.transition(job_id, expect, status, ended_at, worker_id=WORKER)


async def run(env: Env, key: ApiKey, claimed_at: datetime, seconds: float) -> str:
    """Start a job of flow "f", claim it at ``claimed_at`` and complete it ``seconds`` later."""
    job = await env.manager.start(key, "f", None, {})
    await claim(env, job.id, claimed_at)
    await end(env, job.id, domain.COMPLETED, claimed_at + timedelta(seconds=seconds))
    return job.id


async def space_with_flow(env: Env, name: str, **billing: object) -> tuple[Space, ApiKey]:
    space, key = await env.space_with_key(name)
    await env.push(space, flow("f"))
    if billing:
        space = await env.catalog.update_space_billing(space.id, **billing)  # type: ignore[arg-type]
    return space, key


async def test_seconds_from_running_to_the_end_are_added_whatever_the_final_state(
    env: Env,
) -> None:
    space, key = await space_with_flow(env, "s")
    t0 = at("2026-03-10T10:00:00")
    await run(env, key, t0, 90)
    failed = await env.manager.start(key, "f", None, {})
    await claim(env, failed.id, t0)
    await end(env, failed.id, domain.execution_error("boom"), t0 + timedelta(seconds=20.25))
    canceled = await env.manager.start(key, "f", None, {})
    await claim(env, canceled.id, t0)
    assert await env.store.transition(
        canceled.id, [JobState.RUNNING], domain.CANCELING, t0 + timedelta(seconds=5)
    )
    await end(env, canceled.id, domain.USER_CANCELED, t0 + timedelta(seconds=10))
    never_ran = await env.manager.start(key, "f", None, {})
    await env.manager.cancel(key, never_ran.id)  # canceled while waiting: no seconds

    march = await env.store.month_usage(space.id, "2026-03")
    assert march == domain.MonthUsage(used_seconds=120.25, billed_seconds=120.25)
    assert await env.store.month_usage(space.id, domain.month_of(utcnow())) == domain.MonthUsage()


async def test_a_job_counts_to_the_month_it_ends_in(env: Env) -> None:
    space, key = await space_with_flow(env, "s")

    await run(env, key, at("2026-01-31T23:59:00"), 120)

    assert await env.store.month_usage(space.id, "2026-01") == domain.MonthUsage()
    assert await env.store.month_usage(space.id, "2026-02") == domain.MonthUsage(120, 120)


async def test_seconds_past_the_quota_are_used_but_not_billed_without_pay_as_you_go(
    env: Env,
) -> None:
    space, key = await space_with_flow(env, "s", quota_seconds=100)
    t0 = at("2026-04-01T08:00:00")

    await run(env, key, t0, 60)
    await run(env, key, t0, 70)  # crosses the quota: 40 of its 70 s are billed
    await run(env, key, t0, 10)  # entirely past it
    assert await env.store.month_usage(space.id, "2026-04") == domain.MonthUsage(140, 100)

    # Turned on later in the month, pay-as-you-go bills what comes next, not what was
    await env.catalog.update_space_billing(space.id, pay_as_you_go=True)
    await run(env, key, t0, 5)
    assert await env.store.month_usage(space.id, "2026-04") == domain.MonthUsage(145, 105)


async def test_every_second_is_billed_with_pay_as_you_go_or_without_a_quota(env: Env) -> None:
    paying, paying_key = await space_with_flow(env, "p", quota_seconds=100, pay_as_you_go=True)
    free, free_key = await space_with_flow(env, "u")  # unlimited
    t0 = at("2026-05-20T12:00:00")

    for seconds in (60, 70):
        await run(env, paying_key, t0, seconds)
        await run(env, free_key, t0, seconds)

    assert await env.store.month_usage(paying.id, "2026-05") == domain.MonthUsage(130, 130)
    assert await env.store.month_usage(free.id, "2026-05") == domain.MonthUsage(130, 130)


async def test_start_is_refused_once_the_quota_is_used_up_and_started_jobs_run_on(
    env: Env,
) -> None:
    space, key = await space_with_flow(env, "s", quota_seconds=50)
    first = await env.manager.start(key, "f", None, {})
    late = await env.manager.start(key, "f", None, {})  # waits while the quota runs out
    now = utcnow()
    await claim(env, first.id, now - timedelta(seconds=60))
    await end(env, first.id, domain.COMPLETED, now)  # 60 s used of 50

    with pytest.raises(QuotaExceededError) as refused:
        await env.manager.start(key, "f", None, {})

    assert (refused.value.status, refused.value.code) == (402, "JOB_QUOTA_EXCEEDED")
    assert "pay-as-you-go is off" in refused.value.message
    # a job started before the refusal still runs to its end; its seconds are not billed
    claimed_at = utcnow()
    await claim(env, late.id, claimed_at)
    await end(env, late.id, domain.COMPLETED, claimed_at + timedelta(seconds=20))
    used = await env.store.month_usage(space.id, domain.month_of(claimed_at))
    assert (used.used_seconds >= 80, used.billed_seconds) == (True, 50)
    # pay-as-you-go, or a higher quota, lets jobs start again
    await env.catalog.update_space_billing(space.id, pay_as_you_go=True)
    assert (await env.manager.start(key, "f", None, {})).state is JobState.WAITING
    await env.catalog.update_space_billing(space.id, pay_as_you_go=False, quota_seconds=None)
    assert (await env.manager.start(key, "f", None, {})).state is JobState.WAITING


async def test_a_zero_quota_refuses_every_start(env: Env) -> None:
    _, key = await space_with_flow(env, "s", quota_seconds=0)

    with pytest.raises(QuotaExceededError):
        await env.manager.start(key, "f", None, {})


async def test_report_counts_jobs_created_in_the_month_by_state(env: Env) -> None:
    space, key = await space_with_flow(env, "s", quota_seconds=1000)
    other, other_key = await space_with_flow(env, "other")
    now = utcnow()
    await run(env, key, now - timedelta(seconds=30), 30)
    await env.manager.start(key, "f", None, {})
    await env.manager.cancel(key, (await env.manager.start(key, "f", None, {})).id)
    await env.manager.start(other_key, "f", None, {})
    usage = UsageService(env.store)

    report = await usage.report(space.name)

    assert report.month == domain.month_of(utcnow())
    assert report.job_counts == {
        JobState.WAITING: 1,
        JobState.RUNNING: 0,
        JobState.COMPLETED: 1,
        JobState.CANCELING: 0,
        JobState.CANCELED: 1,
        JobState.ERROR: 0,
    }
    assert report.usage.used_seconds == pytest.approx(30)
    assert report.remaining_seconds == pytest.approx(970)
    past = await usage.report(space.id, "2020-01")
    assert set(past.job_counts.values()) == {0} and past.usage == domain.MonthUsage()
    assert (await usage.report(other.id)).job_counts[JobState.WAITING] == 1


async def test_report_refuses_a_bad_month_and_an_unknown_space(env: Env) -> None:
    usage = UsageService(env.store)
    await space_with_flow(env, "s")

    with pytest.raises(InvalidMonthError):
        await usage.report("s", "2026-13")
    with pytest.raises(SpaceNotFoundError):
        await usage.report("no-such-space")


async def test_concurrent_endings_in_one_space_all_count(make_env: MakeEnv) -> None:
    """Four processes' worth of stores end jobs of one space at once: the
    upsert neither loses an increment nor fails on the first row's insert."""
    envs = [await make_env() for _ in range(4)]
    space, key = await space_with_flow(envs[0], "s", quota_seconds=50)
    t0 = at("2026-06-15T00:00:00")
    ids = [(await envs[0].manager.start(key, "f", None, {})).id for _ in range(12)]
    for _ in ids:
        await envs[0].store.claim(WORKER, 1, lambda: t0, 30, domain.RUNNING)

    await asyncio.gather(
        *(
            end(envs[i % 4], job_id, domain.COMPLETED, t0 + timedelta(seconds=10))
            for i, job_id in enumerate(ids)
        )
    )

    assert await envs[0].store.month_usage(space.id, "2026-06") == domain.MonthUsage(120, 50)


async def test_a_requeued_attempt_is_counted_once_and_a_cancel_while_waiting_adds_nothing(
    make_env: MakeEnv,
) -> None:
    env = await make_env(lease_seconds=0.1)
    space, key = await env.space_with_key("s")
    await env.push(space, flow("safe") | {"settings": {"retryOnWorkerLoss": 1}})
    job = await env.manager.start(key, "safe", None, {})
    await env.manager.claim("dies", 1)
    await asyncio.sleep(0.3)
    assert await env.manager.reap() == 1
    requeued = await env.manager.info(key, job.id)
    assert requeued.state is JobState.WAITING and requeued.claimed_at is None
    usage = UsageService(env.store)
    after_loss = (await usage.report(space.id)).usage.used_seconds
    assert 0.1 <= after_loss < 5

    await env.manager.cancel(key, job.id)

    assert (await usage.report(space.id)).usage.used_seconds == pytest.approx(after_loss)
