"""GET /job/{jobId}, and what a key of one space may do to another space's objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .helpers import Api, assert_job_shape, assert_problem


def test_info_answers_the_job(idle: Api) -> None:
    started = idle.start_ok("echo", {"k": "v"}, headers={"X-Correlation-Id": "info-1"})

    response = idle.info(started["jobId"])

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    job = response.json()
    assert_job_shape(job)
    assert job == started
    assert job["correlationId"] == "info-1"


def test_info_of_unknown_malformed_and_foreign_jobs_answers_the_same_404(
    idle: Api, idle_b: Api
) -> None:
    foreign = idle.start_ok("echo")["jobId"]

    bodies = [
        assert_problem(idle_b.info(job_id), 404, "JOB_NOT_FOUND")
        for job_id in ("6f1e2d3c-0000-4000-8000-000000000000", "xyz", foreign)
    ]

    assert bodies[0] == bodies[1] == bodies[2]
    # and the answer does not depend on which space asks about an unknown id
    assert assert_problem(idle.info("xyz"), 404, "JOB_NOT_FOUND") == bodies[0]


# ---- isolation matrix: space B's key on space A's objects ---------------------------------

Call = Callable[[Api, dict[str, Any]], httpx.Response]

ISOLATION: dict[str, tuple[Call, int, str]] = {
    "info-job": (lambda b, a: b.info(a["jobId"]), 404, "JOB_NOT_FOUND"),
    "cancel-job": (lambda b, a: b.cancel(a["jobId"]), 404, "JOB_NOT_FOUND"),
    "trace-job": (lambda b, a: b.get(f"/job/{a['jobId']}/trace"), 404, "JOB_NOT_FOUND"),
    "logs-job": (lambda b, a: b.get(f"/job/{a['jobId']}/logs"), 404, "JOB_NOT_FOUND"),
    "start-alias": (lambda b, a: b.start("echo"), 404, "RULE_NOT_FOUND"),
    "start-alias-latest": (lambda b, a: b.start("echo", "latest"), 404, "RULE_NOT_FOUND"),
    "start-baseId": (lambda b, a: b.start(a["baseId"]), 404, "RULE_NOT_FOUND"),
    "start-baseId-version": (lambda b, a: b.start(a["baseId"], 1), 404, "RULE_NOT_FOUND"),
    "cancelAll-space": (lambda b, a: b.cancel_space(a["spaceId"]), 403, "FORBIDDEN"),
    "cancelAll-space-running": (
        lambda b, a: b.cancel_space(a["spaceId"], running=True),
        403,
        "FORBIDDEN",
    ),
    "cancelAll-rule-alias": (lambda b, a: b.cancel_rule("echo", "latest"), 404, "RULE_NOT_FOUND"),
    "cancelAll-rule-baseId": (
        lambda b, a: b.cancel_rule(a["baseId"], 1),
        404,
        "RULE_NOT_FOUND",
    ),
    "cancelAll-rule-baseId-running": (
        lambda b, a: b.cancel_rule(a["baseId"], "latest", running=True),
        404,
        "RULE_NOT_FOUND",
    ),
}


@pytest.mark.parametrize("endpoint", list(ISOLATION))
def test_another_space_key_cannot_reach_space_a_objects(
    idle: Api, idle_b: Api, endpoint: str
) -> None:
    call, status, code = ISOLATION[endpoint]
    waiting = idle.start_ok("echo", {"owner": "A"})
    objects = {
        "jobId": waiting["jobId"],
        "baseId": idle.tenant.rules["echo"]["baseId"],
        "spaceId": idle.tenant.space_id,
    }

    body = assert_problem(call(idle_b, objects), status, code)

    assert waiting["jobId"] not in body["detail"]
    assert idle.job(waiting["jobId"]) == waiting  # still WAITING, not touched at all
    # and A itself still reaches the same objects
    assert idle.start(objects["baseId"], 1).status_code == 200
    assert idle.cancel(waiting["jobId"]).json()["status"]["state"] == "CANCELED"
