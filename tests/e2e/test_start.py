"""POST /job/start/{identifier}[/{version}]: the answer, the input, the options."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from support.processes import flowjobs

from .conftest import ENVIRONMENT_GROUP, PARALLEL_LIMIT, Servers
from .helpers import Api, assert_job_shape, assert_problem


def test_start_answers_the_waiting_job_with_its_location(idle: Api) -> None:
    response = idle.start("echo", json={"data": {"name": "Ada"}})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    job = response.json()
    assert_job_shape(job)
    assert response.headers["location"] == f"/job/{job['jobId']}"
    assert job["status"] == {
        "state": "WAITING",
        "code": "JOB_INITIALIZED",
        "message": "Job initialized",
    }
    assert job["ruleReference"] == {
        "baseId": idle.tenant.rules["echo"]["baseId"],
        "version": 1,
        "type": "integration-flow",
    }
    assert job["inputData"] == {"name": "Ada"}
    assert job["output"] is None
    assert job["error"] is None
    assert job["claimedAt"] is None
    assert job["endedAt"] is None
    assert datetime.fromisoformat(job["createdAt"]) <= datetime.fromisoformat(job["updatedAt"])
    uuid.UUID(job["correlationId"])
    context = job["context"]
    assert context["spaceId"] == idle.tenant.space_id
    assert isinstance(context["billingUserId"], str) and context["billingUserId"]
    assert context["executorUser"] is None
    assert context["environmentGroup"] == ENVIRONMENT_GROUP
    assert context["priority"] == 0
    assert context["parallelLimit"] == PARALLEL_LIMIT
    # nothing runs in the idle database: the stored job is exactly what start answered
    assert idle.job(job["jobId"]) == job


@pytest.mark.parametrize("by", ["alias", "baseId"])
@pytest.mark.parametrize("version", [None, "1", "latest"])
def test_start_by_alias_or_base_id_and_any_version_form(
    idle: Api, by: str, version: str | None
) -> None:
    rule = idle.tenant.rules["sleeper"]
    identifier = rule["ruleAlias"] if by == "alias" else rule["baseId"]

    response = idle.start(identifier, version, json={"seconds": 1})

    assert response.status_code == 200, response.text
    job = response.json()
    assert job["ruleReference"] == {
        "baseId": rule["baseId"],
        "version": 1,
        "type": "integration-flow",
    }
    assert job["inputData"] == {"seconds": 1}
    assert response.headers["location"] == f"/job/{job['jobId']}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"data": {"a": 1}}, {"a": 1}),
        ({"data": [1, 2], "options": {"debug": True}}, [1, 2]),
        ({"data": 1, "other": 2}, {"data": 1, "other": 2}),
        ({"options": {"x": 1}}, {"options": {"x": 1}}),
        ({"a": 1}, {"a": 1}),
        ([1, 2, 3], [1, 2, 3]),
        ([{"data": 1}], [{"data": 1}]),
        ("text", "text"),
        ({"data": None}, None),
    ],
    ids=[
        "wrapped-object",
        "wrapped-with-options",
        "data-with-other-key-is-not-unwrapped",
        "options-alone-is-not-unwrapped",
        "plain-object",
        "array",
        "array-of-wrappers",
        "string",
        "wrapped-null",
    ],
)
def test_start_body_is_the_input_or_its_data_wrapper(idle: Api, body: Any, expected: Any) -> None:
    job = idle.start_ok("echo", json=body)

    assert job["inputData"] == expected
    assert idle.job(job["jobId"])["inputData"] == expected


@pytest.mark.parametrize("content", [b"", b"  \n "], ids=["empty", "whitespace"])
def test_start_without_body_runs_with_an_empty_object(idle: Api, content: bytes) -> None:
    job = idle.start_ok("echo", content=content, headers={"Content-Type": "application/json"})

    assert job["inputData"] == {}
    assert idle.job(job["jobId"])["inputData"] == {}


def test_correlation_id_header_sets_the_correlation_id(idle: Api) -> None:
    job = idle.start_ok("echo", headers={"X-Correlation-Id": "order-1234"})

    assert job["correlationId"] == "order-1234"
    assert idle.job(job["jobId"])["correlationId"] == "order-1234"


def test_correlation_id_defaults_to_a_fresh_uuid(idle: Api) -> None:
    first = idle.start_ok("echo")
    second = idle.start_ok("echo")

    uuid.UUID(first["correlationId"])
    uuid.UUID(second["correlationId"])
    assert first["correlationId"] != second["correlationId"]


def test_overlong_correlation_id_is_an_invalid_request(idle: Api) -> None:
    response = idle.start("echo", headers={"X-Correlation-Id": "c" * 201})

    assert_problem(response, 400, "INVALID_REQUEST")


@pytest.mark.parametrize("priority", [0, 7, 10])
def test_priority_query_sets_the_context_priority(idle: Api, priority: int) -> None:
    job = idle.start_ok("echo", params={"priority": str(priority)})

    assert job["context"]["priority"] == priority
    assert idle.job(job["jobId"])["context"]["priority"] == priority


@pytest.mark.parametrize("priority", ["11", "-1", "x", "1.5"])
def test_priority_out_of_range_or_not_an_integer_is_refused(idle: Api, priority: str) -> None:
    response = idle.start("echo", params={"priority": priority})

    body = assert_problem(response, 400, "INVALID_REQUEST")
    assert "priority" in body["detail"]


@pytest.mark.parametrize(
    ("identifier", "version", "status", "code"),
    [
        ("no-such-rule", None, 404, "RULE_NOT_FOUND"),
        ("no-such-rule", "1", 404, "RULE_NOT_FOUND"),
        ("6f1e2d3c-0000-4000-8000-000000000000", None, 404, "RULE_NOT_FOUND"),
        ("echo", "99", 404, "RULE_VERSION_NOT_FOUND"),
        ("echo", "0", 400, "INVALID_VERSION"),
        ("echo", "abc", 400, "INVALID_VERSION"),
        ("echo", "-1", 400, "INVALID_VERSION"),
        ("echo", "1.0", 400, "INVALID_VERSION"),
        ("not-a-flow", None, 400, "NOT_AN_INTEGRATION_FLOW"),
        ("not-a-flow", "1", 400, "NOT_AN_INTEGRATION_FLOW"),
    ],
)
def test_start_refuses_unknown_or_unstartable_rules(
    live: Api, identifier: str, version: str | None, status: int, code: str
) -> None:
    response = live.start(identifier, version, json={"data": {}})

    assert_problem(response, status, code)


def test_not_a_flow_is_refused_by_base_id_too(live: Api) -> None:
    response = live.start(live.tenant.rules["not-a-flow"]["baseId"])

    assert_problem(response, 400, "NOT_AN_INTEGRATION_FLOW")


@pytest.mark.parametrize("content", [b"{bad", b'{"a": 1', b"nul", b"{'a': 1}"])
def test_invalid_json_body_is_refused(idle: Api, content: bytes) -> None:
    response = idle.start("echo", content=content, headers={"Content-Type": "application/json"})

    assert_problem(response, 400, "INVALID_JSON")


def _oversized() -> bytes:
    return b'{"data": "' + b"x" * (1024 * 1024) + b'"}'


def test_body_over_one_mib_is_refused_by_its_length(idle: Api) -> None:
    response = idle.start(
        "echo", content=_oversized(), headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_streamed_body_over_one_mib_is_refused(idle: Api) -> None:
    body = _oversized()

    def chunks() -> Any:
        for offset in range(0, len(body), 64 * 1024):
            yield body[offset : offset + 64 * 1024]

    response = idle.start("echo", content=chunks(), headers={"Content-Type": "application/json"})

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_body_just_under_the_limit_is_accepted(idle: Api) -> None:
    filler = "y" * (1024 * 1024 - 100)
    job = idle.start_ok("echo", json={"data": {"blob": filler}})

    assert job["inputData"] == {"blob": filler}


def test_rule_of_another_space_is_not_found_by_base_id(servers: Servers, idle_b: Api) -> None:
    base_id = servers.idle.a.rules["echo"]["baseId"]

    for version in (None, "1", "latest"):
        assert_problem(idle_b.start(base_id, version), 404, "RULE_NOT_FOUND")


def test_pending_version_cannot_be_started(
    servers: Servers, live: Api, scratch: Callable[[str, str, str], Path]
) -> None:
    changed = scratch("array-output", "'[1, 2, 3]'", "'[4, 5, 6]'")
    pushed = flowjobs(servers.live.url, "rule", "push", str(changed), "--space", "live-a", "--json")
    assert pushed["ruleAlias"] == "array-output"
    assert pushed["baseId"] == live.tenant.rules["array-output"]["baseId"]
    assert pushed["version"] == 2
    assert pushed["status"] == "pending"

    assert_problem(live.start("array-output", "2"), 404, "RULE_VERSION_NOT_FOUND")
    assert_problem(live.start(pushed["baseId"], "2"), 404, "RULE_VERSION_NOT_FOUND")

    for version in ("latest", None):
        job = (
            live.start_ok("array-output")
            if version is None
            else live.start("array-output", version).json()
        )
        assert job["ruleReference"]["version"] == 1
        done = live.wait_final(job["jobId"])
        assert done["status"]["state"] == "COMPLETED"
        assert done["output"] == [1, 2, 3]


# ---- inputs Python accepts but JSON does not ---------------------------------------------


@pytest.mark.parametrize("version", ["²", "³"], ids=["superscript-two", "superscript-three"])
def test_version_of_non_ascii_digits_is_an_invalid_version(idle: Api, version: str) -> None:
    assert_problem(idle.start("echo", version), 400, "INVALID_VERSION")
    assert_problem(idle.cancel_rule("echo", version), 400, "INVALID_VERSION")


@pytest.mark.parametrize(
    "content", [b'{"x": NaN}', b"[Infinity]", b"-Infinity"], ids=["nan", "infinity", "-infinity"]
)
def test_nan_and_infinity_are_not_json(idle: Api, content: bytes) -> None:
    response = idle.start("echo", content=content, headers={"Content-Type": "application/json"})

    assert_problem(response, 400, "INVALID_JSON")


def test_lone_surrogate_is_refused_and_starts_no_job(idle: Api) -> None:
    assert idle.cancel_space(idle.tenant.space_id).status_code == 200  # nothing WAITING now

    response = idle.start(
        "echo", content=b'{"a": "\\ud800"}', headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 400, "INVALID_JSON")
    leftover = idle.cancel_space(idle.tenant.space_id).json()
    assert leftover["canceledCount"] == 0, "a job was stored although the start was refused"
