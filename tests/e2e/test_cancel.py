"""POST /job/cancel/{jobId}."""

from __future__ import annotations

import pytest

from .helpers import Api, assert_job_shape, assert_problem

CANCELED = {"state": "CANCELED", "code": "JOB_USER_CANCELED", "message": "Job was canceled"}
CANCELING = {"state": "CANCELING", "code": "JOB_RUNNING", "message": "Job is being canceled"}


def test_cancel_of_a_waiting_job_cancels_it_at_once(idle: Api) -> None:
    started = idle.start_ok("echo", {"n": 1})

    response = idle.cancel(started["jobId"])

    assert response.status_code == 200, response.text
    assert response.headers["location"] == f"/job/{started['jobId']}"
    job = response.json()
    assert_job_shape(job)
    assert job["status"] == CANCELED
    assert job["endedAt"] is not None
    assert job["claimedAt"] is None
    assert job["output"] is None
    assert job["error"] is None
    assert job["inputData"] == {"n": 1}
    assert idle.job(started["jobId"]) == job

    again = idle.cancel(started["jobId"])
    assert again.status_code == 200, again.text
    assert again.json() == job


def test_cancel_of_a_running_job_goes_through_canceling(live: Api, sleepers: list[str]) -> None:
    started = live.start_ok("sleeper", {"seconds": 30})
    sleepers.append(started["jobId"])
    live.wait_state(started["jobId"], "RUNNING")

    response = live.cancel(started["jobId"])

    assert response.status_code == 200, response.text
    first = response.json()
    assert first["status"] == CANCELING
    assert first["claimedAt"] is not None
    assert first["endedAt"] is None

    again = live.cancel(started["jobId"])
    assert again.status_code == 200, again.text
    second = again.json()
    if second["status"]["state"] == "CANCELING":
        assert second == first  # a second cancel changes nothing
    else:
        assert second["status"] == CANCELED

    job = live.wait_state(started["jobId"], "CANCELED")
    assert job["status"] == CANCELED
    assert job["endedAt"] is not None
    assert job["output"] is None
    assert job["error"] is None

    final = live.cancel(started["jobId"])
    assert final.status_code == 200, final.text
    assert final.json() == job
    assert live.job(started["jobId"]) == job


def test_cancel_through_another_process_stops_the_running_job(
    live: Api, live_api_only: Api, sleepers: list[str]
) -> None:
    started = live.start_ok("sleeper", {"seconds": 30})
    sleepers.append(started["jobId"])
    live.wait_state(started["jobId"], "RUNNING")

    response = live_api_only.cancel(started["jobId"])

    assert response.status_code == 200, response.text
    assert response.json()["status"]["state"] in {"CANCELING", "CANCELED"}
    job = live.wait_state(started["jobId"], "CANCELED")
    assert job["status"] == CANCELED


@pytest.mark.parametrize("flow", ["echo", "failing"])
def test_cancel_of_a_finished_job_is_a_conflict(live: Api, flow: str) -> None:
    started = live.start_ok(flow, {"what": "apples"})
    before = live.wait_final(started["jobId"])
    assert before["status"]["state"] == ("COMPLETED" if flow == "echo" else "ERROR")

    response = live.cancel(started["jobId"])

    body = assert_problem(response, 409, "JOB_STATE_CONFLICT")
    assert before["status"]["state"] in body["detail"]
    assert live.job(started["jobId"]) == before


@pytest.mark.parametrize(
    "job_id", ["6f1e2d3c-0000-4000-8000-000000000000", "xyz", "not-a-uuid-at-all"]
)
def test_cancel_of_an_unknown_or_malformed_job_is_not_found(idle: Api, job_id: str) -> None:
    assert_problem(idle.cancel(job_id), 404, "JOB_NOT_FOUND")


def test_cancel_of_another_space_job_is_not_found_and_changes_nothing(
    idle: Api, idle_b: Api
) -> None:
    started = idle.start_ok("echo")

    assert_problem(idle_b.cancel(started["jobId"]), 404, "JOB_NOT_FOUND")

    assert idle.job(started["jobId"]) == started
