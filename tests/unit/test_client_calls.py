"""The client's new pure parts: list filters, idempotent starts, the event
stream reader, the retry policy and the URL and key from the environment."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from flowjobs.client import (
    DEFAULT_URL,
    JobFilter,
    JobsClientError,
    ServiceUnavailable,
    _EventReader,
    _from_environment,
    _list,
    _parse,
    _rerun,
    _Retry,
    _start,
)
from flowjobs.domain import JobState
from flowjobs.schemas import Job

JOB = {
    "jobId": "j1",
    "correlationId": "c1",
    "ruleReference": {"baseId": "b", "version": 1, "type": "integration-flow"},
    "context": {
        "spaceId": "s",
        "billingUserId": "s",
        "executorUser": None,
        "usedApiKeyId": "k",
        "environmentGroup": "production",
        "priority": 0,
        "parallelLimit": 1,
    },
    "status": {"state": "RUNNING", "code": "JOB_RUNNING", "message": "Job running"},
    "createdAt": "2026-01-01T00:00:00Z",
    "updatedAt": "2026-01-01T00:00:01Z",
    "apiKey": {"id": "k", "name": "key"},
}


def test_list_sends_only_the_filters_given() -> None:
    since = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    filters = JobFilter(state=[JobState.RUNNING, "WAITING"], rule="echo", version=2, since=since)
    call = _list(filters, 10, "cur", True)

    assert (call.method, call.path) == ("GET", "/job")
    assert call.params == {
        "state": "RUNNING,WAITING",
        "rule": "echo",
        "version": 2,
        "since": "2026-01-02T03:04:00+00:00",
        "limit": 10,
        "cursor": "cur",
        "full": "true",
    }
    assert _list(JobFilter(), None, None, False).params == {}
    assert JobFilter(state="ERROR").params() == {"state": "ERROR"}
    with pytest.raises(ValueError):
        JobFilter(state="SLEEPING").params()


def test_only_starts_with_an_idempotency_key_are_repeated_after_a_503() -> None:
    keyed = _start("echo", {}, None, None, None, "order-7")
    plain = _start("echo", {}, None, None, None)

    assert keyed.headers == {"Idempotency-Key": "order-7"}
    assert (keyed.repeatable, plain.repeatable, _rerun("j", None).repeatable) == (
        True,
        False,
        False,
    )
    retry = _Retry(2, 0.1)
    busy = httpx.Response(503)
    assert retry.again(0, keyed, busy) and not retry.again(0, plain, busy)
    assert not retry.again(2, keyed, busy)  # bounded
    assert not retry.again(0, keyed, httpx.Response(500))


def test_retry_pauses_double_within_a_bound_and_follow_retry_after() -> None:
    retry = _Retry(10, 0.2)

    assert [retry.pause(n) for n in range(3)] == [0.2, 0.4, 0.8]
    assert retry.pause(20) == _Retry.LONGEST_PAUSE
    assert retry.pause(0, httpx.Response(503, headers={"Retry-After": "2"})) == 2.0
    assert retry.pause(0, httpx.Response(503, headers={"Retry-After": "3600"})) == 5.0
    with pytest.raises(ValueError):
        _Retry(-1, 0.1)


def test_a_503_is_its_own_error() -> None:
    problem = {"title": "x", "status": 503, "detail": "db down", "code": "STORE_ERROR"}
    with pytest.raises(ServiceUnavailable):
        _parse(httpx.Response(503, json=problem), Job)


def test_the_event_reader_yields_state_progress_and_end() -> None:
    reader = _EventReader()
    lines = [
        "event: state",
        f"data: {Job.model_validate(JOB).model_dump_json()}",
        "",
        ": keep-alive",
        "",
        "event: end",
        'data: {"jobId": "j1", "state": "COMPLETED"}',
        "",
    ]
    events = [e for e in map(reader.feed, lines) if e is not None]

    assert [(e.kind, e.state) for e in events] == [
        ("state", JobState.RUNNING),
        ("end", JobState.COMPLETED),
    ]
    assert events[0].job is not None and events[0].job.jobId == "j1"
    assert events[1].job is None


def test_url_and_key_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWJOBS_URL", raising=False)
    monkeypatch.setenv("FLOWJOBS_KEY", "fjs_env")
    assert _from_environment(None, None) == (DEFAULT_URL, "fjs_env")
    monkeypatch.setenv("FLOWJOBS_URL", "http://127.0.0.1:9")
    assert _from_environment(None, "fjs_arg") == ("http://127.0.0.1:9", "fjs_arg")
    monkeypatch.delenv("FLOWJOBS_KEY")
    with pytest.raises(JobsClientError, match="FLOWJOBS_KEY"):
        _from_environment("http://x", None)
