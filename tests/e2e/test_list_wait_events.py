"""GET /job (filters, pages, isolation), GET /job/{jobId}?wait= and
GET /job/{jobId}/events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import PARALLEL_LIMIT
from .helpers import Api, assert_problem


def _list(api: Api, **params: Any) -> dict[str, Any]:
    response = api.get("/job", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_listing_filters_and_pages_without_gaps(idle: Api, idle_b: Api) -> None:
    tag = uuid.uuid4().hex
    jobs = [idle.start_ok("echo", {"tag": tag, "n": n}) for n in range(7)]
    since = jobs[0]["createdAt"]
    assert idle.cancel(jobs[3]["jobId"]).status_code == 200

    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(5):  # 7 jobs, 3 a page: 3 pages
        page = _list(idle, since=since, limit=3, **({"cursor": cursor} if cursor else {}))
        seen += page["jobs"]
        idle.start_ok("sleeper", {"tag": tag, "late": True})  # newer: never on a later page
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert [job["jobId"] for job in seen] == [job["jobId"] for job in reversed(jobs)]
    assert all("inputData" not in job and "output" not in job for job in seen)
    assert seen[0]["status"]["state"] == "WAITING" and seen[0]["rerunOf"] is None

    canceled = _list(idle, since=since, state="CANCELED")["jobs"]
    assert [job["jobId"] for job in canceled] == [jobs[3]["jobId"]]
    both = _list(idle, since=since, state="WAITING, CANCELED", rule="echo", version=1)
    assert len(both["jobs"]) == 7
    full = _list(idle, since=since, rule=jobs[0]["ruleReference"]["baseId"], full="true")
    assert [job["inputData"]["n"] for job in full["jobs"]] == list(range(6, -1, -1))
    assert all(job["output"] is None for job in full["jobs"])
    assert _list(idle_b)["jobs"] == []  # space B sees none of space A's jobs


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"limit": 0}, 400, "INVALID_REQUEST"),
        ({"limit": 201}, 400, "INVALID_REQUEST"),
        ({"state": "WAITING,DONE"}, 400, "INVALID_REQUEST"),
        ({"since": "yesterday"}, 400, "INVALID_REQUEST"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, 400, "INVALID_REQUEST"),
        ({"version": 1}, 400, "INVALID_REQUEST"),
        ({"rule": "no-such-flow"}, 404, "RULE_NOT_FOUND"),
    ],
)
def test_listing_refuses_bad_queries(
    idle: Api, params: dict[str, Any], status: int, code: str
) -> None:
    assert_problem(idle.get("/job", params=params), status, code)


def test_listing_needs_a_solver_key(idle: Api) -> None:
    assert_problem(idle.get("/job", key=None), 401, "UNAUTHORIZED")
    assert_problem(idle.get("/job", key=idle.tenant.management_key), 403, "WRONG_KEY_KIND")


def test_wait_answers_when_another_process_ends_the_job(
    live: Api, live_api_only: Api, sleepers: list[str]
) -> None:
    """The API-only process learns of the end from its periodic read (SQLite)."""
    job = live.start_ok("sleeper", {"seconds": 1})
    sleepers.append(job["jobId"])
    started = time.monotonic()
    response = live_api_only.info(job["jobId"], params={"wait": 30})
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["status"]["state"] == "COMPLETED"
    assert elapsed < 10  # the job's second plus a poll interval, far from the 30 s asked


def test_wait_answers_after_the_timeout_when_the_job_does_not_end(idle: Api) -> None:
    job = idle.start_ok("echo")
    started = time.monotonic()
    response = idle.info(job["jobId"], params={"wait": 1})
    assert response.status_code == 200
    assert response.json()["status"]["state"] == "WAITING"
    assert time.monotonic() - started >= 1
    ended = idle.cancel(job["jobId"]).json()
    assert idle.info(job["jobId"], params={"wait": 30}).json() == ended  # final: at once
    assert_problem(idle.info(job["jobId"], params={"wait": 61}), 400, "INVALID_REQUEST")
    assert_problem(idle.info(job["jobId"], params={"wait": -1}), 400, "INVALID_REQUEST")


def _events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, data as JSON) of a text/event-stream; comment lines are skipped."""
    event, data = "", ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data = line.removeprefix("data:").strip()
        elif not line and event:
            yield event, json.loads(data)
            event, data = "", ""


def test_events_follow_a_job_from_waiting_to_completed(live: Api, sleepers: list[str]) -> None:
    # Fill the space's parallel limit so that the job stays WAITING at first.
    for _ in range(PARALLEL_LIMIT):
        sleepers.append(live.start_ok("sleeper", {"seconds": 30})["jobId"])
    for job_id in sleepers:
        live.wait_state(job_id, "RUNNING")
    job = live.start_ok("sleeper", {"seconds": 0.3})
    received: list[tuple[str, Any]] = []
    url = f"{live.base_url}/job/{job['jobId']}/events"
    # Not live.client: its response hook reads each body whole before returning.
    with httpx.stream("GET", url, headers=live.tenant.headers, timeout=15) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response)
        received.append(next(events))
        assert received[0][1]["status"]["state"] == "WAITING"
        for job_id in sleepers:  # free the slots: the job runs
            live.cancel(job_id)
        deadline = time.monotonic() + 20
        for event in events:
            received.append(event)
            assert time.monotonic() < deadline
    kinds = [kind for kind, _ in received]
    states = [data["status"]["state"] for kind, data in received if kind != "end"]
    assert kinds[-1] == "end" and received[-1][1] == {"jobId": job["jobId"], "state": "COMPLETED"}
    assert set(kinds[:-1]) <= {"state", "progress"}
    assert states[0] == "WAITING" and "RUNNING" in states and states[-1] == "COMPLETED"
    assert received[-2][1]["output"] == [{"slept": 0.3}]
    assert_problem(live.get("/job/not-a-job/events"), 404, "JOB_NOT_FOUND")
