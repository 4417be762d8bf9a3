"""Jobs run by the embedded worker, from WAITING to their final state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .helpers import Api, assert_job_shape


def _times(job: dict[str, Any]) -> tuple[datetime, datetime, datetime, datetime]:
    return (
        datetime.fromisoformat(job["createdAt"]),
        datetime.fromisoformat(job["claimedAt"]),
        datetime.fromisoformat(job["endedAt"]),
        datetime.fromisoformat(job["updatedAt"]),
    )


def test_echo_job_completes_with_its_output_as_a_one_element_array(live: Api) -> None:
    started = live.start_ok("echo", {"name": "Ada"}, headers={"X-Correlation-Id": "corr-echo"})

    job = live.wait_final(started["jobId"])

    assert_job_shape(job)
    assert job["status"] == {
        "state": "COMPLETED",
        "code": "JOB_SUCCESS",
        "message": "Job completed",
    }
    assert job["output"] == [
        {"input": {"name": "Ada"}, "jobId": started["jobId"], "correlationId": "corr-echo"}
    ]
    assert job["error"] is None
    assert job["inputData"] == {"name": "Ada"}
    assert job["ruleReference"] == started["ruleReference"]
    assert job["context"] == started["context"]
    assert job["apiKey"] == started["apiKey"]
    assert job["createdAt"] == started["createdAt"]
    created, claimed, ended, updated = _times(job)
    assert created <= claimed <= ended <= updated


def test_array_output_stays_an_array(live: Api) -> None:
    started = live.start_ok("array-output")

    job = live.wait_final(started["jobId"])

    assert job["status"]["state"] == "COMPLETED"
    assert job["output"] == [1, 2, 3]


def test_code_first_handler_job_completes(live: Api) -> None:
    started = live.start_ok("handler-double", {"n": 2})

    job = live.wait_final(started["jobId"])

    assert job["status"] == {
        "state": "COMPLETED",
        "code": "JOB_SUCCESS",
        "message": "Job completed",
    }
    assert job["output"] == [{"doubled": 4}]


def test_failing_flow_ends_in_error_with_the_failing_node(live: Api) -> None:
    started = live.start_ok("failing", {"what": "pears"})

    job = live.wait_final(started["jobId"])

    assert_job_shape(job)
    assert job["status"]["state"] == "ERROR"
    assert job["status"]["code"] == "JOB_EXECUTION_ERROR"
    assert "cannot process pears" in job["status"]["message"]
    error = job["error"]
    assert set(error) == {"message", "nodeId", "type"}
    assert error["nodeId"] == "boom"
    assert "cannot process pears" in error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert job["output"] is None
    created, claimed, ended, _ = _times(job)
    assert created <= claimed <= ended


def test_flow_over_its_execution_limit_times_out(live: Api) -> None:
    started = live.start_ok("quick-timeout")

    job = live.wait_final(started["jobId"], timeout=20)

    assert job["status"] == {
        "state": "ERROR",
        "code": "JOB_TIMEOUT",
        "message": "Job exceeded its execution limit of 1 s",
    }
    assert job["error"] is not None
    assert job["error"]["message"] == "Job exceeded its execution limit of 1 s"
    assert job["output"] is None
    assert job["endedAt"] is not None


def test_running_job_reports_running(live: Api, sleepers: list[str]) -> None:
    started = live.start_ok("sleeper", {"seconds": 30})
    sleepers.append(started["jobId"])

    job = live.wait_state(started["jobId"], "RUNNING")

    assert job["status"] == {
        "state": "RUNNING",
        "code": "JOB_RUNNING",
        "message": "Job is being processed",
    }
    assert job["claimedAt"] is not None
    assert job["endedAt"] is None
    assert job["output"] is None


def test_short_sleeper_completes_with_its_output(live: Api) -> None:
    started = live.start_ok("sleeper", {"seconds": 0.2})

    job = live.wait_final(started["jobId"])

    assert job["status"]["state"] == "COMPLETED"
    assert isinstance(job["output"], list) and len(job["output"]) == 1
    assert set(job["output"][0]) == {"slept"}


def test_job_accepted_by_an_api_only_process_is_run_by_the_worker_process(
    live: Api, live_api_only: Api
) -> None:
    started = live_api_only.start_ok("echo", {"via": "api-only"})
    assert started["status"]["state"] == "WAITING"

    job = live.wait_final(started["jobId"])

    assert job["status"]["state"] == "COMPLETED"
    assert job["output"][0]["input"] == {"via": "api-only"}
    assert live_api_only.job(started["jobId"]) == job
