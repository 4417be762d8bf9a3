"""The worker registry (``flowjobs workers``) and retention (``flowjobs prune``)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowjobs import domain
from flowjobs.catalog import Catalog
from flowjobs.cli import parse_age
from flowjobs.config import Settings
from flowjobs.domain import ApiKey, JobDetails, JobState, WorkerInfo
from flowjobs.events import LocalEvents
from flowjobs.manager import JobManager
from flowjobs.store import SqlStore
from support.env import Env, MakeEnv, flow
from support.processes import cli_env, flowjobs, running

FAST = {
    "FLOWJOBS_POLL_INTERVAL": "0.05",
    "FLOWJOBS_CANCEL_POLL_INTERVAL": "0.05",
    "FLOWJOBS_REAP_INTERVAL": "0.2",
    "FLOWJOBS_LEASE_SECONDS": "1.5",  # registry heartbeat every 0.5 s
    "FLOWJOBS_SHUTDOWN_GRACE_SECONDS": "0.2",
}
LONG_AGO = datetime.now(UTC) - timedelta(days=10)


async def _eventually(env: Env, check: Any, timeout: float = 30) -> list[WorkerInfo]:
    """Poll the registry (every worker, dead ones too) until ``check`` holds."""

    async def poll() -> list[WorkerInfo]:
        while True:
            found = await env.manager.workers.list_workers(include_dead=True)
            if check(found):
                return found
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


# ---- registry -------------------------------------------------------------------------


async def test_worker_process_registers_beats_and_is_marked_stopped(
    make_env: MakeEnv, db_url: str, tmp_path: Path
) -> None:
    env = await make_env(lease_seconds=1.5)
    space, key = await env.space_with_key("s")
    await env.push(space, flow("long", 60))
    with running(
        db_url, "worker", "--concurrency", "3", log_dir=tmp_path, name="w", extra_env=FAST
    ) as proc:
        [row] = await _eventually(env, lambda ws: len(ws) == 1)
        assert (row.pid, row.concurrency, row.stopped_at, row.alive) == (
            proc.process.pid,
            3,
            None,
            True,
        )
        listed = await asyncio.to_thread(flowjobs, db_url, "workers", "--json")
        assert [w["id"] for w in listed["workers"]] == [row.id]
        assert listed["workers"][0]["alive"] is True

        await env.manager.start(key, "long", None, {})
        [busy] = await _eventually(env, lambda ws: ws[0].running == 1)
        assert busy.last_heartbeat_at > row.last_heartbeat_at

        assert proc.stop() == 0  # SIGTERM
    [stopped] = await env.manager.workers.list_workers(include_dead=True)
    assert stopped.stopped_at is not None and not stopped.alive and stopped.running == 0
    assert await env.manager.workers.list_workers() == []
    assert (await asyncio.to_thread(flowjobs, db_url, "workers", "--json"))["workers"] == []
    everyone = await asyncio.to_thread(flowjobs, db_url, "workers", "--all", "--json")
    assert [(w["id"], w["alive"]) for w in everyone["workers"]] == [(row.id, False)]


async def test_silent_workers_are_dead_and_old_rows_are_pruned(env: Env) -> None:
    now = datetime.now(UTC)
    await env.store.register_worker("live", "h", 1, 4, now)
    await env.store.register_worker("silent", "h", 2, 4, now - timedelta(minutes=5))
    await env.store.register_worker("gone", "h", 3, 4, now - timedelta(days=3))
    await env.store.register_worker("stopped", "h", 4, 4, now - timedelta(days=3))
    await env.store.worker_stopped("stopped", now - timedelta(days=2))
    assert [w.id for w in await env.manager.workers.list_workers()] == ["live"]
    assert not await env.manager.workers.heartbeat("stopped", 1)  # a stopped row stays stopped

    assert await env.manager.workers.prune() == 2
    rows = await env.manager.workers.list_workers(include_dead=True)
    assert sorted((w.id, w.alive) for w in rows) == [("live", True), ("silent", False)]


# ---- prune ----------------------------------------------------------------------------


async def _finished(env: Env, key: ApiKey, end: domain.Status, ended_at: datetime) -> str:
    """A job that ended with ``end`` at ``ended_at``, with saved details."""
    job = await env.manager.start(key, "f", None, {})
    if end.state is JobState.CANCELED:
        assert await env.store.transition(job.id, [JobState.WAITING], end, ended_at)
    else:
        [claimed] = await env.manager.claim("w", 1)
        assert claimed.job.id == job.id
        assert await env.store.transition(job.id, [JobState.RUNNING], end, ended_at)
    await env.store.save_details(job.id, JobDetails({"t": 1}, [{"m": "x"}]), None, ended_at)
    return job.id


async def _old_and_kept(env: Env) -> tuple[list[str], list[str]]:
    """Seven finished jobs from ten days ago, and four to keep: finished an
    hour ago, running, canceling and waiting (all created ten days ago too)."""
    space, key = await env.space_with_key("s")
    await env.push(space, flow("f"))
    ends = [domain.COMPLETED] * 3 + [domain.USER_CANCELED] * 2 + [domain.ZOMBIE] * 2
    old = [await _finished(env, key, end, LONG_AGO) for end in ends]
    recent = await _finished(env, key, domain.COMPLETED, datetime.now(UTC) - timedelta(hours=1))
    busy = []
    for _ in range(2):
        await env.manager.start(key, "f", None, {})
        busy.append((await env.manager.claim("w", 1))[0].job.id)
    assert await env.store.transition(busy[1], [JobState.RUNNING], domain.CANCELING, LONG_AGO)
    waiting = (await env.manager.start(key, "f", None, {})).id
    return old, [recent, *busy, waiting]


async def test_prune_deletes_only_old_finished_jobs_in_batches(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, kept = await _old_and_kept(env)
    batches: list[int] = []
    batch = env.store.prune_batch

    def counted(before: datetime, size: int) -> Any:
        batches.append(size)
        return batch(before, size)

    monkeypatch.setattr("flowjobs.store.jobs.prune_batch", counted)
    assert await env.manager.prune(timedelta(days=1), batch_size=2) == 7
    assert batches == [2, 2, 2, 2]  # 2 + 2 + 2 + 1: the short batch ends it
    for job_id in old:
        assert await env.store.get_job(job_id) is None
        assert await env.store.get_details(job_id) is None  # details went with them
    states = [(await env.store.get_job(job_id)).state for job_id in kept]  # type: ignore[union-attr]
    assert states == [JobState.COMPLETED, JobState.RUNNING, JobState.CANCELING, JobState.WAITING]
    assert await env.store.get_details(kept[0]) is not None
    assert await env.manager.prune(timedelta(days=1), batch_size=2) == 0


async def test_prune_with_exact_multiple_of_the_batch_size(env: Env) -> None:
    old, _ = await _old_and_kept(env)
    assert await env.manager.prune(timedelta(days=1), batch_size=7) == len(old)
    assert await env.manager.prune(timedelta(minutes=30), batch_size=7) == 1  # the recent one


# ---- the command line (SQLite) ---------------------------------------------------------------


@pytest.fixture
async def sqlite_env(sqlite_url: str) -> AsyncIterator[Env]:
    settings = Settings(database_url=sqlite_url)
    store = SqlStore(sqlite_url)
    manager = JobManager(store, settings, LocalEvents())
    yield Env(settings, store, Catalog(store, settings), manager)
    await store.close()


async def test_prune_command_end_to_end(sqlite_env: Env, sqlite_url: str) -> None:
    old, kept = await _old_and_kept(sqlite_env)
    nothing = await asyncio.to_thread(
        flowjobs, sqlite_url, "prune", "--older-than", "11d", "--json"
    )
    assert nothing["deleted"] == 0
    result = await asyncio.to_thread(
        flowjobs, sqlite_url, "prune", "--older-than", "2d", "--batch-size", "3", "--json"
    )
    assert result["deleted"] == len(old)
    assert datetime.fromisoformat(result["endedBefore"]) < datetime.now(UTC) - timedelta(days=1)
    text = await asyncio.to_thread(flowjobs, sqlite_url, "prune", "--older-than", "30m")
    assert text.startswith("deleted 1 finished jobs")
    assert [await sqlite_env.store.get_job(job_id) is None for job_id in kept] == [
        True,
        False,
        False,
        False,
    ]


def test_prune_command_rejects_a_bad_age(sqlite_url: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flowjobs", "prune", "--older-than", "5 weeks"],
        env=cli_env(sqlite_url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "expected a number and d, h or m" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("1.5d", timedelta(hours=36)),
    ],
)
def test_parse_age(text: str, expected: timedelta) -> None:
    assert parse_age(text) == expected
