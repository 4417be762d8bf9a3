"""Pure helpers of the listing, idempotency, events, watcher, metrics and logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from fastapi import Request
from prometheus_client.parser import text_string_to_metric_families

from flowjobs import domain
from flowjobs.api.events import end_event, event_kind, job_event, with_keepalive
from flowjobs.api.routes.jobs import parse_states
from flowjobs.api.routes.ops import check_metrics_token
from flowjobs.config import Settings
from flowjobs.cursor import decode_cursor, encode_cursor
from flowjobs.domain import JobRecord, JobStamp, JobState, JobStatusCode, RuleStatus, RuleVersion
from flowjobs.errors import InvalidRequestError, TooManyWaitersError, UnauthorizedError
from flowjobs.logs import JobContextFilter, JsonFormatter, TextFormatter, job_context, redact
from flowjobs.manager import idempotent_request
from flowjobs.metrics import Metrics
from flowjobs.watch import JobWatcher

NOW = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)


def _job(job_id: str = "0b6d8a1c-9a4e-4f55-8a3e-1e9f6f1d2c3b", **changes: object) -> JobRecord:
    job = JobRecord(
        id=job_id,
        space_id="s",
        base_id="b",
        version=1,
        rule_type="integration-flow",
        correlation_id="corr",
        input={"x": 1},
        output=None,
        error=None,
        state=JobState.WAITING,
        code=JobStatusCode.JOB_INITIALIZED,
        message="Job initialized",
        priority=0,
        parallel_limit=1,
        environment_group="production",
        api_key_id="k",
        api_key_name="key",
        execution_limit_s=10,
        created_at=NOW,
        updated_at=NOW,
        claimed_at=None,
        ended_at=None,
        worker_id=None,
        attempts=0,
    )
    return replace(job, **changes)  # type: ignore[arg-type]


def _rule(base_id: str = "b") -> RuleVersion:
    return RuleVersion(
        base_id, "s", "f", "f", None, "integration-flow", 1, RuleStatus.PUBLISHED, {}
    )


# ---- cursors and idempotency ---------------------------------------------------------


def test_cursor_round_trips_and_refuses_anything_else() -> None:
    job = _job()
    assert decode_cursor(encode_cursor(job)) == (job.created_at, job.id)
    for junk in ("", "%%%", "e30", "WzEsMl0", "WyIyMDI2LTExLTI4VDEyOjAwOjAwIiwgIngiXQ"):
        with pytest.raises(InvalidRequestError):
            decode_cursor(junk)


def test_request_hash_tells_a_retry_from_another_request() -> None:
    same = [
        idempotent_request("k", _rule(), None, {"a": 1, "b": [1, 2]}),
        idempotent_request("k", _rule(), "latest", {"b": [1, 2], "a": 1}),
    ]
    assert same[0] == same[1] and same[0] is not None and same[0].key == "k"
    assert idempotent_request("k", _rule(), "01", {}) == idempotent_request("k", _rule(), "1", {})
    others = {
        idempotent_request("k", _rule(), None, {"a": 2}),
        idempotent_request("k", _rule("c"), None, {"a": 1, "b": [1, 2]}),
        idempotent_request("k", _rule(), "1", {"a": 1, "b": [1, 2]}),
    }
    assert len(others) == 3 and same[0] not in others
    assert idempotent_request(None, _rule(), None, {}) is None
    assert idempotent_request("", _rule(), None, {}) is None


def test_state_lists_are_validated() -> None:
    assert parse_states("RUNNING, WAITING") == {JobState.RUNNING, JobState.WAITING}
    assert parse_states(None) == frozenset() == parse_states("")
    with pytest.raises(InvalidRequestError, match="DONE"):
        parse_states("RUNNING,DONE")


# ---- server-sent events -----------------------------------------------------------------


def test_event_kinds_and_wire_format() -> None:
    waiting = _job()
    running = _job(state=JobState.RUNNING, code=JobStatusCode.JOB_RUNNING, message="m")
    with_progress = replace(running, progress={"done": 1, "total": 2})
    assert event_kind(None, waiting) == "state"
    assert event_kind(waiting, running) == "state"
    assert event_kind(running, with_progress) == "progress"
    wire = job_event("progress", with_progress).decode()
    assert wire.startswith("event: progress\ndata: {") and wire.endswith("\n\n")
    assert json.loads(wire.split("data: ", 1)[1])["progress"] == {"done": 1, "total": 2}
    assert end_event(waiting).decode() == (
        'event: end\ndata: {"jobId": "' + waiting.id + '", "state": "WAITING"}\n\n'
    )


async def _all(items: AsyncGenerator[JobRecord | None, None]) -> list[JobRecord | None]:
    return [item async for item in items]


async def test_keepalive_ticks_while_the_source_is_idle() -> None:
    release = asyncio.Event()
    closed = []

    async def source() -> AsyncGenerator[JobRecord, None]:
        try:
            await release.wait()
            yield _job()
        finally:
            closed.append(True)

    items = with_keepalive(source(), 0)  # every pass without an item is a tick
    assert await anext(items) is None
    release.set()
    got = await asyncio.wait_for(_all(items), 5)  # ticks, then the item, then the end
    assert isinstance(got[-1], JobRecord) and set(got[:-1]) <= {None}
    assert closed == [True]


# ---- the watcher, over an in-memory table ------------------------------------------------


class Table:
    def __init__(self, *jobs: JobRecord) -> None:
        self.jobs = {job.id: job for job in jobs}
        self.stamp_reads: list[list[str]] = []
        self.job_reads: list[list[str]] = []

    async def stamps(self, ids: Sequence[str]) -> dict[str, JobStamp]:
        self.stamp_reads.append(sorted(ids))
        return {i: domain.stamp(self.jobs[i]) for i in ids if i in self.jobs}

    async def read(self, ids: Sequence[str]) -> list[JobRecord]:
        self.job_reads.append(sorted(ids))
        return [self.jobs[i] for i in ids if i in self.jobs]


async def test_watcher_reads_all_watched_jobs_in_one_batch_and_wakes_only_on_change() -> None:
    a, b = _job("a"), _job("b")
    table = Table(a, b)
    watcher = JobWatcher(table.stamps, table.read, interval=60, capacity=3)
    with watcher.subscribe(a) as sub_a, watcher.subscribe(b), watcher.subscribe(a) as sub_a2:
        with pytest.raises(TooManyWaitersError), watcher.subscribe(b):
            pass
        await watcher.refresh(["a", "b"])
        assert table.stamp_reads == [["a", "b"]] and table.job_reads == []  # nothing moved
        table.jobs["a"] = replace(a, state=JobState.RUNNING, updated_at=NOW.replace(second=1))
        await watcher.refresh(["a", "b"])
        assert table.job_reads == [["a"]]  # only what moved is read in full
        assert (await sub_a.next()).state is JobState.RUNNING
        assert (await sub_a2.next()).state is JobState.RUNNING
        assert watcher.subscribers == 3
    assert watcher.subscribers == 0


def test_waiter_shares_per_space_and_key_leave_room_for_the_others() -> None:
    table = Table()
    watcher = JobWatcher(table.stamps, table.read, interval=60, capacity=5, per_space=3, per_key=2)
    busy, quiet = _job("a", space_id="busy"), _job("b", space_id="quiet")
    with watcher.subscribe(busy, "k1"), watcher.subscribe(busy, "k1"):
        with (
            pytest.raises(TooManyWaitersError, match="this API key"),
            watcher.subscribe(busy, "k1"),
        ):
            pass
        with watcher.subscribe(busy, "k2"):
            with (
                pytest.raises(TooManyWaitersError, match="this space"),
                watcher.subscribe(busy, "k3"),
            ):
                pass
            with (
                watcher.subscribe(quiet, "q1"),
                watcher.subscribe(quiet, "q2"),
                pytest.raises(TooManyWaitersError, match="in this process"),
                watcher.subscribe(quiet, "q3"),
            ):
                pass
        with watcher.subscribe(busy, "k3"):  # the space's share was given back
            assert watcher.subscribers == 3
    assert watcher.subscribers == 0
    assert not watcher._shares.spaces and not watcher._shares.keys  # no entry left behind


def test_notifications_name_jobs_or_everything() -> None:
    table = Table()
    watcher = JobWatcher(table.stamps, table.read, interval=60, capacity=10)
    with watcher.subscribe(_job("a")), watcher.subscribe(_job("b")):
        watcher._due(every=False)  # forget the subscriptions' own requests
        watcher.notified("a,zzz")
        assert watcher._due(every=False) == ["a"]  # unwatched ids are ignored
        watcher.notified("")
        assert sorted(watcher._due(every=False)) == ["a", "b"]


# ---- metrics ------------------------------------------------------------------------------


def test_metrics_render_queue_gauges_and_counters() -> None:
    metrics = Metrics()
    metrics.finished(domain.COMPLETED, 2)
    metrics.request("/job/{jobId}", "GET", 200, 0.01)
    rows = [
        ("a", JobState.WAITING, 3),
        ("a", JobState.RUNNING, 1),
        ("a", JobState.CANCELING, 1),
        ("b", None, 0),
    ]
    text = metrics.render(rows, waiters=4).decode()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("flowjobs_jobs_waiting", (("space", "a"),))] == 3
    assert samples[("flowjobs_jobs_running", (("space", "a"),))] == 2
    assert samples[("flowjobs_jobs_waiting", (("space", "b"),))] == 0
    finished = (("code", "JOB_SUCCESS"), ("state", "COMPLETED"))
    assert samples[("flowjobs_jobs_finished_total", finished)] == 2
    assert samples[("flowjobs_waiters", ())] == 4
    assert samples[("flowjobs_database_up", ())] == 1
    down = metrics.render(None, waiters=0).decode()
    assert "flowjobs_database_up 0.0" in down and 'space="a"' not in down


# ---- logs and settings ----------------------------------------------------------------------


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "flowjobs.worker", "msg": message, **extra})
    JobContextFilter().filter(record)
    return record


def test_lines_logged_inside_a_job_context_name_the_job() -> None:
    with job_context("job-1", "corr-1"):
        inside = json.loads(JsonFormatter().format(_record("job claimed", action="claim")))
    outside = json.loads(JsonFormatter().format(_record("idle")))
    assert (inside["jobId"], inside["correlationId"], inside["action"]) == (
        "job-1",
        "corr-1",
        "claim",
    )
    assert "jobId" not in outside
    with job_context("job-2", "corr-2"):
        named = _record("lease lost", jobId="job-3", correlationId="corr-3")
    assert (named.jobId, named.correlationId) == ("job-3", "corr-3")  # type: ignore[attr-defined]


def test_secrets_are_redacted_from_log_lines() -> None:
    secret = "fjs_" + "A1b2C3d4" * 5
    line = JsonFormatter().format(
        _record(f"bad key {secret}", url="postgresql://flowjobs:hunter2@db/flowjobs")
    )
    assert secret not in line and "hunter2" not in line
    assert "fjs_[redacted]" in line and "postgresql://flowjobs:[redacted]@db" in line
    assert "hunter2" not in TextFormatter().format(_record("x", dsn="redis://:hunter2@h/0"))
    assert redact("sqlite:///./flowjobs.db") == "sqlite:///./flowjobs.db"


def test_log_format_setting_and_the_older_log_json(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FLOWJOBS_LOG_FORMAT", "FLOWJOBS_LOG_JSON"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().json_logs is False  # text by default
    monkeypatch.setenv("FLOWJOBS_LOG_JSON", "true")
    assert Settings().json_logs is True
    monkeypatch.setenv("FLOWJOBS_LOG_FORMAT", "text")
    assert Settings().json_logs is False  # the new setting wins
    monkeypatch.setenv("FLOWJOBS_LOG_FORMAT", "json")
    assert Settings().json_logs is True


def test_metrics_token_is_checked_only_when_set() -> None:
    def request(authorization: str | None) -> Request:
        headers = [] if authorization is None else [(b"authorization", authorization.encode())]
        return Request({"type": "http", "method": "GET", "path": "/metrics", "headers": headers})

    open_state = SimpleNamespace(settings=Settings(metrics_token=None))
    check_metrics_token(open_state, request(None))  # type: ignore[arg-type]
    guarded = SimpleNamespace(settings=Settings(metrics_token="s3cret"))
    check_metrics_token(guarded, request("Bearer s3cret"))  # type: ignore[arg-type]
    for wrong in (None, "Bearer nope", "s3cret", "Bearer s3cret2"):
        with pytest.raises(UnauthorizedError):
            check_metrics_token(guarded, request(wrong))  # type: ignore[arg-type]


def test_redaction_skips_only_lines_that_cannot_hold_a_secret() -> None:
    both = "key fjm_abcdefgh123 at HTTPS://user:pw@host/x"
    assert redact(both) == "key fjm_[redacted] at HTTPS://user:[redacted]@host/x"
    assert redact("job claimed jobId=62d576a2 worker=app-1:2:e9") == (
        "job claimed jobId=62d576a2 worker=app-1:2:e9"
    )
