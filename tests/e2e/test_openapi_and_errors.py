"""The OpenAPI document, authentication, unknown paths and methods, secrets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from .conftest import Servers
from .helpers import PROBLEM_JSON, Api, assert_problem

ANY_JOB = "6f1e2d3c-0000-4000-8000-000000000000"

ENDPOINTS: dict[str, Callable[[Api, dict[str, Any]], httpx.Response]] = {
    "start": lambda api, kw: api.start("echo", **kw),
    "start-version": lambda api, kw: api.start("echo", "1", **kw),
    "cancel": lambda api, kw: api.cancel(ANY_JOB, **kw),
    "cancelAll-space": lambda api, kw: api.cancel_space(api.tenant.space_id, **kw),
    "cancelAll-rule": lambda api, kw: api.cancel_rule("echo", "latest", **kw),
    "info": lambda api, kw: api.info(ANY_JOB, **kw),
    "trace": lambda api, kw: api.get(f"/job/{ANY_JOB}/trace", **kw),
    "logs": lambda api, kw: api.get(f"/job/{ANY_JOB}/logs", **kw),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    "credentials",
    [None, "Bearer fjs_not-a-real-key", "Bearer", "Basic dXNlcjpwYXNz", "fjs_no-scheme"],
    ids=["missing", "unknown-key", "empty-bearer", "basic-scheme", "no-scheme"],
)
def test_missing_or_unknown_key_is_unauthorized(
    idle: Api, endpoint: str, credentials: str | None
) -> None:
    headers = {} if credentials is None else {"Authorization": credentials}

    response = ENDPOINTS[endpoint](idle, {"key": None, "headers": headers})

    assert_problem(response, 401, "UNAUTHORIZED")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_management_key_is_the_wrong_kind(idle: Api, endpoint: str) -> None:
    response = ENDPOINTS[endpoint](idle, {"key": idle.tenant.management_key})

    assert_problem(response, 403, "WRONG_KEY_KIND")


def test_openapi_names_the_documented_schemas(idle: Api) -> None:
    response = idle.client.get(idle.base_url + "/openapi.json")

    assert response.status_code == 200
    schemas = response.json()["components"]["schemas"]
    for name in ("JobState", "JobStatusCode", "JobStatus", "JobRuleReference", "Job", "JobContext"):
        assert name in schemas, name
    assert set(schemas["JobState"]["enum"]) == {
        "WAITING",
        "RUNNING",
        "COMPLETED",
        "CANCELING",
        "CANCELED",
        "ERROR",
    }
    assert set(schemas["JobStatusCode"]["enum"]) == {
        "JOB_SUCCESS",
        "JOB_ERROR",
        "JOB_TIMEOUT",
        "JOB_QUOTA_EXCEEDED",
        "JOB_EXECUTION_ERROR",
        "JOB_VALIDATION_ERROR",
        "JOB_USER_CANCELED",
        "JOB_SYSTEM_CANCELED",
        "ZOMBIE_PROCESS",
        "JOB_INITIALIZED",
        "JOB_RUNNING",
        "JOB_WAITING",
    }
    job_fields = set(schemas["Job"]["properties"])
    assert {"jobId", "correlationId", "ruleReference", "status", "context", "apiKey"} <= job_fields


def test_openapi_documents_problem_answers_for_every_job_operation(idle: Api) -> None:
    paths = idle.client.get(idle.base_url + "/openapi.json").json()["paths"]
    operations = [
        (path, method, operation)
        for path, item in paths.items()
        if path == "/job" or path.startswith("/job/")
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]

    assert {(path, method) for path, method, _ in operations} == {
        ("/job/start/{identifier}", "post"),
        ("/job/start/{identifier}/{version}", "post"),
        ("/job/cancel/{jobId}", "post"),
        ("/job/cancelAll/space/{spaceId}", "post"),
        ("/job/cancelAll/rule/{identifier}/{version}", "post"),
        ("/job/{jobId}", "get"),
        ("/job/{jobId}/trace", "get"),
        ("/job/{jobId}/logs", "get"),
        ("/job", "get"),
        ("/job/{jobId}/events", "get"),
        ("/job/rerun/{jobId}", "post"),
    }
    for path, method, operation in operations:
        problems = [
            status
            for status, answer in operation["responses"].items()
            if status.startswith("4") and PROBLEM_JSON in answer.get("content", {})
        ]
        assert problems, f"{method.upper()} {path} documents no problem+json 4xx"


@pytest.mark.parametrize("path", ["/nope", "/jobs", "/job/a/b/c/d", "/api/rules/echo"])
def test_unknown_path_is_a_problem_404(idle: Api, path: str) -> None:
    response = idle.get(path)

    assert_problem(response, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/job/start/echo"),
        ("GET", "/job/start/echo/1"),
        ("GET", f"/job/cancel/{ANY_JOB}"),
        ("DELETE", f"/job/{ANY_JOB}"),
        ("PUT", "/job/cancelAll/space/x"),
        ("GET", "/job/cancelAll/rule/echo/latest"),
    ],
)
def test_wrong_method_is_a_problem_405(idle: Api, method: str, path: str) -> None:
    response = idle.client.request(method, idle.base_url + path, headers=idle.tenant.headers)

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert "allow" in response.headers


def test_no_response_ever_carried_an_api_key_secret(
    servers: Servers, idle: Api, live: Api, responses: list[httpx.Response]
) -> None:
    job = idle.start_ok("echo", {"key": "not the secret"})
    idle.info(job["jobId"])
    idle.cancel(job["jobId"])
    idle.cancel_space(idle.tenant.space_id, running=True)
    idle.cancel_rule("echo", "latest")
    idle.start("echo", key=idle.tenant.management_key)
    live.wait_final(live.start_ok("echo", {"x": 1})["jobId"])

    assert len(responses) >= 7
    for response in responses:
        exposed = response.text + repr(dict(response.headers))
        for secret in servers.secrets:
            assert secret not in exposed, response.url
