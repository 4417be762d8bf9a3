"""Every input bound of docs/api.md (Limits): past it, a 4xx problem body whose
detail (or problems list) names the limit. One test per limit."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from .conftest import Servers
from .helpers import Api, assert_problem

ONE_MIB = 1024 * 1024
DEPTH = 64  # FLOWJOBS_MAX_JSON_DEPTH's default
# About 90 s of JSONata work: the 1 s evaluation limit stops it long before.
SLOW_EXPRESSION = "$sum([1..1500].($sum([1..1500].($ * 2))))"


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def management(api: Api, method: str, path: str, **kw: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api.tenant.management_key}", **kw.pop("headers", {})}
    return api.client.request(method, api.base_url + path, headers=headers, **kw)


def flow(nodes: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"name": "limits", "alias": f"limits-{uuid.uuid4().hex[:8]}", "nodes": nodes, **fields}


END = {"id": "done", "type": "end", "output": "input"}


def test_body_over_the_size_limit_is_413(idle: Api) -> None:
    response = idle.start("echo", content=b" " * (ONE_MIB + 1))

    body = assert_problem(response, 413, "PAYLOAD_TOO_LARGE")
    assert "1048576 bytes" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "key_kind"),
    [
        ("POST", "/job/start/echo", "solver"),
        ("POST", "/api/rule/validate", "management"),
        ("POST", "/api/rule", "management"),
        ("POST", "/api/webhooks", "management"),
    ],
)
def test_json_nested_past_the_depth_limit_is_json_too_deep(
    idle: Api, method: str, path: str, key_kind: str
) -> None:
    key = idle.tenant.key if key_kind == "solver" else idle.tenant.management_key
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    body = '{"data": ' + nested(DEPTH) + "}"

    response = idle.client.request(method, idle.base_url + path, headers=headers, content=body)

    problem = assert_problem(response, 400, "JSON_TOO_DEEP")
    assert f"{DEPTH} levels" in problem["detail"]
    assert "FLOWJOBS_MAX_JSON_DEPTH" in problem["detail"]


def test_json_at_the_depth_limit_is_accepted(idle: Api) -> None:
    job = idle.start_ok("echo", json.loads(nested(DEPTH - 1)))  # data: plus 63 levels = 64

    assert job["inputData"] == json.loads(nested(DEPTH - 1))


def test_yaml_nested_past_the_depth_limit_is_json_too_deep(idle: Api) -> None:
    deep = "a: " + nested(DEPTH + 1) + "\n"
    response = management(
        idle,
        "POST",
        "/api/rule/validate",
        content=deep,
        headers={"Content-Type": "application/yaml"},
    )

    assert "FLOWJOBS_MAX_JSON_DEPTH" in assert_problem(response, 400, "JSON_TOO_DEEP")["detail"]


def test_yaml_aliases_that_expand_past_the_body_are_413(idle: Api) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    response = management(
        idle,
        "POST",
        "/api/rule/validate",
        content="\n".join(lines),
        headers={"Content-Type": "application/yaml"},
    )

    assert "expands to more than" in assert_problem(response, 413, "PAYLOAD_TOO_LARGE")["detail"]


def test_a_flow_string_over_its_limit_is_an_invalid_rule(idle: Api) -> None:
    document = flow([END], description="d" * 100_001)

    response = management(idle, "POST", "/api/rule", json=document)

    problems = assert_problem(response, 400, "INVALID_RULE")["problems"]
    assert any("over the limit of 100000 (max_string_length)" in p for p in problems), problems


def test_a_flow_array_over_its_limit_is_reported_by_validate(idle: Api) -> None:
    document = flow([{**END, "output": "[" + ",".join(["1"] * 10) + "]"}])
    document["settings"] = {"tags": ["t"] * 10_001}

    response = management(idle, "POST", "/api/rule/validate", json=document)

    assert response.status_code == 200, response.text
    assert response.json()["valid"] is False
    problems = response.json()["problems"]
    assert any("over the limit of 10000 (max_array_length)" in p for p in problems), problems


def test_rule_push_refuses_a_flow_string_over_its_limit(servers: Servers, tmp_path: Path) -> None:
    from flowjobs.cli import app

    path = tmp_path / "long.json"
    path.write_text(json.dumps(flow([END], description="d" * 100_001)))

    result = CliRunner().invoke(
        app, ["--database-url", servers.idle.url, "rule", "push", str(path), "--space", "idle-a"]
    )

    assert result.exit_code != 0
    assert "max_string_length" in result.output


def test_a_flow_over_the_node_limit_is_an_invalid_rule(idle: Api) -> None:
    nodes = [{"id": f"n{i}", "type": "log", "message": "'x'"} for i in range(150)] + [END]

    response = management(idle, "POST", "/api/rule", json=flow(nodes))

    problems = assert_problem(response, 400, "INVALID_RULE")["problems"]
    assert any("over the limit of 150 (max_nodes)" in p for p in problems), problems


def test_headers_over_the_size_limit_are_431(idle: Api) -> None:
    response = idle.info(str(uuid.uuid4()), headers={"X-Padding": "p" * 16_400})

    body = assert_problem(response, 431, "HEADERS_TOO_LARGE")
    assert "FLOWJOBS_MAX_HEADER_BYTES" in body["detail"]


@pytest.mark.parametrize("header", ["X-Correlation-Id", "Idempotency-Key"])
def test_a_start_header_over_200_characters_is_invalid(idle: Api, header: str) -> None:
    response = idle.start("echo", headers={header: "h" * 201})

    body = assert_problem(response, 400, "INVALID_REQUEST")
    assert "200" in body["detail"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/job/not-a-uuid", 404, "JOB_NOT_FOUND"),
        ("/job/" + "9" * 5000, 404, "JOB_NOT_FOUND"),
        ("/job/start/echo/1234567890", 400, "INVALID_VERSION"),
        ("/job/start/" + "a" * 5000, 404, "RULE_NOT_FOUND"),
    ],
    ids=["job-id-not-uuid", "job-id-long", "version-ten-digits", "identifier-long"],
)
def test_path_parameters_of_the_wrong_format(idle: Api, path: str, status: int, code: str) -> None:
    response = idle.get(path) if path.startswith("/job/") and "start" not in path else None
    response = response or idle.post(path)

    assert_problem(response, status, code)


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/job", {"limit": "0"}, "limit"),
        ("/job", {"limit": "201"}, "limit"),
        ("/job/{job}", {"wait": "61"}, "wait"),
        ("/job/{job}", {"wait": "-1"}, "wait"),
        ("/job/start/echo", {"priority": "11"}, "priority"),
        ("/job/start/echo", {"priority": "-1"}, "priority"),
    ],
)
def test_query_parameters_out_of_range(
    idle: Api, path: str, params: dict[str, str], named: str
) -> None:
    url = path.replace("{job}", str(uuid.uuid4()))
    call = idle.post if "start" in path else idle.get

    body = assert_problem(call(url, params=params), 400, "INVALID_REQUEST")

    assert f"query.{named}" in body["detail"]


@pytest.mark.parametrize("month", ["2026-13", "26-01", "2026-1", "x" * 300])
def test_usage_month_out_of_range(idle: Api, month: str) -> None:
    response = management(idle, "GET", "/api/space/usage", params={"month": month})

    assert "YYYY-MM" in assert_problem(response, 400, "INVALID_MONTH")["detail"]


def test_a_slow_expression_fails_its_job_naming_the_limit(live: Api) -> None:
    document = flow([{"id": "done", "type": "end", "output": SLOW_EXPRESSION}])
    document["status"] = "published"
    assert management(live, "POST", "/api/rule", json=document).status_code == 201

    job = live.wait_final(live.start_ok(document["alias"])["jobId"], timeout=20)

    assert job["status"]["state"] == "ERROR", job
    assert "expression_timeout_ms" in job["status"]["message"]
    assert "1000 milliseconds" in job["status"]["message"]


def test_validate_compiles_a_slow_expression_without_running_it(idle: Api) -> None:
    document = flow([{"id": "done", "type": "end", "output": SLOW_EXPRESSION}])

    response = management(idle, "POST", "/api/rule/validate", json=document)

    assert response.status_code == 200, response.text
    assert response.json() == {"valid": True, "problems": []}
