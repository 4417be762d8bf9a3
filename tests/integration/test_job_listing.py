"""Listing a space's jobs (filters, keyset pages, summaries) and counting
them, on real SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flowjobs.domain import JobFilter, JobState
from flowjobs.errors import InvalidRequestError, RuleNotFoundError
from support.env import Env, flow


async def test_filters_by_state_rule_version_and_since(env: Env) -> None:
    space, key = await env.space_with_key("s")
    other_space, other_key = await env.space_with_key("other")
    v1 = await env.push(space, flow("f", 0))
    await env.push(space, flow("g", 0))
    await env.push(other_space, flow("f", 0))
    first = await env.manager.start(key, "f", None, {"n": 1})
    g_job = await env.manager.start(key, "g", None, {"n": 2})
    await env.catalog.push_rule(space.id, flow("f", 1), publish=True)  # version 2
    second = await env.manager.start(key, "f", None, {"n": 3})
    await env.manager.cancel(key, g_job.id)
    await env.manager.start(other_key, "f", None, {})
    manager = env.manager

    async def ids(filters: JobFilter) -> list[str]:
        return [j.id for j in (await manager.list_jobs(space.id, filters)).jobs]

    assert await ids(JobFilter()) == [second.id, g_job.id, first.id]  # newest first
    assert await ids(JobFilter(states=frozenset({JobState.CANCELED}))) == [g_job.id]
    waiting_or_canceled = frozenset({JobState.WAITING, JobState.CANCELED})
    assert await ids(JobFilter(states=waiting_or_canceled)) == [second.id, g_job.id, first.id]
    assert await ids(JobFilter(rule="f")) == [second.id, first.id]
    assert await ids(JobFilter(rule=v1.base_id, version=1)) == [first.id]
    assert await ids(JobFilter(rule="f", version=2)) == [second.id]
    assert await ids(JobFilter(since=second.created_at)) == [second.id]
    assert await ids(JobFilter(since=second.created_at + timedelta(seconds=1))) == []
    other = await manager.list_jobs(other_space.id, JobFilter())
    assert [j.space_id for j in other.jobs] == [other_space.id]
    with pytest.raises(RuleNotFoundError):
        await env.manager.list_jobs(space.id, JobFilter(rule="no-such-flow"))
    # A baseId that names no rule (say, a deleted one) filters on it.
    gone = await env.manager.list_jobs(
        space.id, JobFilter(rule="0b6d8a1c-9a4e-4f55-8a3e-1e9f6f1d2c3b")
    )
    assert gone.jobs == [] and gone.next_cursor is None
    with pytest.raises(InvalidRequestError):
        await env.manager.list_jobs(space.id, JobFilter(version=1))
    for bad in ("not base64!", "e30", "WyJ4IiwgInkiXQ"):  # junk, {}, ["x", "y"]
        with pytest.raises(InvalidRequestError):
            await env.manager.list_jobs(space.id, JobFilter(), cursor=bad)
    with pytest.raises(InvalidRequestError):
        await env.manager.list_jobs(space.id, JobFilter(), limit=201)


async def test_pages_have_no_gaps_or_duplicates_while_jobs_are_started(env: Env) -> None:
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    before = [(await env.manager.start(key, "f", None, {"n": n})).id for n in range(23)]
    seen: list[str] = []
    cursor = None
    for page_number in range(10):  # 23 jobs in pages of 5: 5 pages
        page = await env.manager.list_jobs(space.id, JobFilter(), limit=5, cursor=cursor)
        seen.extend(j.id for j in page.jobs)
        await env.manager.start(key, "f", None, {"during": page_number})  # lands before page 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(before))
    assert page_number == 4


async def test_summaries_counts_per_state_and_queue_depths(env: Env) -> None:
    space, key = await env.space_with_key("busy")
    await env.space_with_key("empty")
    await env.push(space, flow("f"))
    jobs = [await env.manager.start(key, "f", None, {"big": "input"}) for _ in range(5)]
    [claimed] = await env.manager.claim("w", 1)
    await env.complete(claimed.job.id, "w", {"the": "output"})
    await env.manager.cancel(key, jobs[1].id)
    await env.manager.claim("w", 1)

    oldest = (await env.manager.list_jobs(space.id, JobFilter())).jobs[-1]
    assert oldest.input is None and oldest.output is None  # a summary reads neither
    assert (oldest.state, oldest.correlation_id) == (JobState.COMPLETED, jobs[0].correlation_id)
    full = (await env.manager.list_jobs(space.id, JobFilter(), full=True)).jobs[-1]
    assert full.input == {"big": "input"} and full.output == [{"the": "output"}]
    counts = await env.manager.job_counts(space.id)
    assert counts == {state: 0 for state in JobState} | {
        JobState.WAITING: 2,
        JobState.RUNNING: 1,
        JobState.CANCELED: 1,
        JobState.COMPLETED: 1,
    }
    rows = await env.manager.queue_depths()
    assert sorted(rows, key=str) == sorted(
        [("busy", JobState.RUNNING, 1), ("busy", JobState.WAITING, 2), ("empty", None, 0)],
        key=str,
    )
