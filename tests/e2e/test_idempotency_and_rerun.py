"""Idempotency-Key on the start endpoints, and POST /job/rerun/{jobId}."""

from __future__ import annotations

import uuid

from .helpers import Api, assert_job_shape, assert_problem


def test_a_retried_start_with_the_same_key_returns_the_first_job(idle: Api) -> None:
    key = {"Idempotency-Key": f"order-{uuid.uuid4()}"}
    first = idle.start("echo", json={"order": 1}, headers=key)
    retry = idle.start("echo", "latest", json={"data": {"order": 1}}, headers=key)
    assert first.status_code == retry.status_code == 200, retry.text
    assert retry.json()["jobId"] == first.json()["jobId"]
    assert retry.headers["location"] == f"/job/{first.json()['jobId']}"

    reused = idle.start("echo", json={"order": 2}, headers=key)
    body = assert_problem(reused, 422, "IDEMPOTENCY_KEY_REUSED")
    assert "Idempotency-Key" in body["detail"]
    fresh = idle.start("echo", json={"order": 1}, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert fresh.json()["jobId"] != first.json()["jobId"]
    too_long = idle.start("echo", json={}, headers={"Idempotency-Key": "k" * 201})
    assert_problem(too_long, 400, "INVALID_REQUEST")


def test_rerun_of_a_failed_job_starts_a_linked_copy(live: Api, live_b: Api) -> None:
    failed = live.start_ok("failing", {"what": "the order"})
    assert live.wait_final(failed["jobId"])["status"]["state"] == "ERROR"

    response = live.post(f"/job/rerun/{failed['jobId']}", headers={"X-Correlation-Id": "again"})

    assert response.status_code == 200, response.text
    rerun = response.json()
    assert_job_shape(rerun)
    assert rerun["jobId"] != failed["jobId"] and rerun["rerunOf"] == failed["jobId"]
    assert rerun["ruleReference"] == failed["ruleReference"]
    assert rerun["inputData"] == failed["inputData"]
    assert rerun["correlationId"] == "again"
    assert response.headers["location"] == f"/job/{rerun['jobId']}"
    ended = live.wait_final(rerun["jobId"])
    assert ended["status"]["state"] == "ERROR" and ended["rerunOf"] == failed["jobId"]
    assert_problem(live_b.post(f"/job/rerun/{failed['jobId']}"), 404, "JOB_NOT_FOUND")


def test_rerun_of_a_completed_job_is_a_conflict(live: Api) -> None:
    done = live.start_ok("echo", {"x": 1})
    assert live.wait_final(done["jobId"])["status"]["state"] == "COMPLETED"
    assert_problem(live.post(f"/job/rerun/{done['jobId']}"), 409, "JOB_STATE_CONFLICT")
    assert_problem(live.post("/job/rerun/not-a-job"), 404, "JOB_NOT_FOUND")


def test_rerun_with_a_too_long_correlation_id_is_a_documented_400(idle: Api) -> None:
    """Found by schema fuzzing: the 400 was answered but not in the document."""
    job = idle.start_ok("echo", {"x": 1})
    assert idle.cancel(job["jobId"]).status_code == 200

    response = idle.post(f"/job/rerun/{job['jobId']}", headers={"X-Correlation-Id": "c" * 201})

    assert_problem(response, 400, "INVALID_REQUEST")
    rerun = idle.client.get(idle.base_url + "/openapi.json").json()["paths"]["/job/rerun/{jobId}"]
    assert "400" in rerun["post"]["responses"]
