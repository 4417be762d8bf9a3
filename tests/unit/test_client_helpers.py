"""The client's pure parts: requests it builds, answers it parses, the pace of
``wait`` (on a fake clock). Calls over HTTP are in tests/e2e/test_client.py."""

from __future__ import annotations

import httpx
import pytest

from flowjobs.client import (
    JobsApiError,
    NotFound,
    QuotaExceeded,
    ServerError,
    _Backoff,
    _info,
    _parse,
    _start,
)
from flowjobs.schemas import Job, SpaceCancelResult

PROBLEM = {
    "type": "https://flowjobs.dev/problems/job-quota-exceeded",
    "title": "Payment Required",
    "status": 402,
    "detail": "The space has used 60.0 s of its 50 free execution seconds",
    "code": "JOB_QUOTA_EXCEEDED",
}


def test_start_wraps_the_input_and_quotes_path_segments() -> None:
    call = _start("a/b c", {"data": 1}, "latest", "order-1", 7)

    assert (call.method, call.path) == ("POST", "/job/start/a%2Fb%20c/latest")
    assert call.json == {"data": {"data": 1}}  # the server unwraps exactly one level
    assert call.params == {"priority": 7}
    assert call.headers == {"X-Correlation-Id": "order-1"}
    assert _start("f", None, None, None, None).json is None  # no body: the job gets {}
    assert _start("f", 0, 2, None, None).path == "/job/start/f/2"


def test_info_asks_for_a_long_poll_only_when_waiting() -> None:
    assert (_info("j").params, _info("j").long_poll) == ({}, 0)
    assert (_info("j", 20).params, _info("j", 20).long_poll) == ({"wait": 20}, 20)


def test_a_problem_body_becomes_the_error_of_its_status() -> None:
    with pytest.raises(QuotaExceeded) as raised:
        _parse(httpx.Response(402, json=PROBLEM), Job)

    assert raised.value.problem.model_dump(exclude_none=True) == PROBLEM
    assert (raised.value.status, raised.value.code, raised.value.problems) == (
        402,
        "JOB_QUOTA_EXCEEDED",
        [],
    )
    not_found = dict(PROBLEM, status=404, code="JOB_NOT_FOUND", problems=["x"])
    with pytest.raises(NotFound) as missing:
        _parse(httpx.Response(404, json=not_found), Job)
    assert missing.value.problems == ["x"]
    with pytest.raises(JobsApiError) as teapot:
        _parse(httpx.Response(418, json=dict(PROBLEM, status=418, code="HTTP_ERROR")), Job)
    assert type(teapot.value) is JobsApiError


def test_an_answer_without_a_problem_body_keeps_its_status_and_text() -> None:
    with pytest.raises(ServerError) as raised:
        _parse(httpx.Response(502, text="<html>Bad gateway</html>"), Job)

    assert (raised.value.status, raised.value.code) == (502, "HTTP_ERROR")
    assert raised.value.detail == "<html>Bad gateway</html>"
    assert raised.value.problem.title == "Bad Gateway"


def test_a_success_is_parsed_into_the_model() -> None:
    body = {"spaceId": "s", "canceledCount": 2, "cancelingCount": 1}

    assert _parse(httpx.Response(200, json=body), SpaceCancelResult) == SpaceCancelResult(**body)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_backoff_long_polls_in_whole_seconds_and_pauses_a_little_longer_each_time() -> None:
    clock = FakeClock()
    backoff = _Backoff(45.5, clock)

    assert backoff.server_wait() == 20  # capped
    pauses = []
    for _ in range(12):
        pause = backoff.pause()
        assert pause is not None
        pauses.append(pause)
    assert pauses[0] == 0.05
    assert pauses == sorted(pauses) and pauses[-1] == 1.0  # grows, then stays at 1 s
    clock.now += 45.0
    assert backoff.server_wait() is None  # under a second left: no long poll
    assert backoff.pause() == pytest.approx(0.5)  # never past the deadline
    clock.now += 0.5
    assert backoff.pause() is None


def test_backoff_refuses_a_negative_timeout() -> None:
    with pytest.raises(ValueError):
        _Backoff(-1)
    assert _Backoff(0, FakeClock()).pause() is None
