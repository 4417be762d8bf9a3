"""The Management API for rules over HTTP, as the DecisionRules SDKs call it:
every endpoint with a Management key, the key checks, a flow created over HTTP
run as a job, inputSchema checks at start, validation errors, deletes that jobs
still need."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from support.processes import FLOWS

from .conftest import Servers, cli
from .helpers import Api, assert_problem

ECHO_NODES = [{"id": "done", "type": "end", "output": '{"got": input}'}]
ORDER_SCHEMA = {
    "type": "object",
    "required": ["orderId"],
    "properties": {"orderId": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
}


def call(
    api: Api,
    method: str,
    path: str,
    key: str | None = "",
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> httpx.Response:
    """``method path`` with the tenant's Management key (``key=None``: none)."""
    secret = api.tenant.management_key if key == "" else key
    sent = {} if secret is None else {"Authorization": f"Bearer {secret}"}
    return api.client.request(method, api.base_url + path, headers=sent | (headers or {}), **kw)


def new_alias() -> str:
    return f"mgmt-{uuid.uuid4().hex[:8]}"


def java_style(alias: str, **fields: Any) -> dict[str, Any]:
    """A rule as the Java SDK sends it: every field of its model, null when unset."""
    body = {
        "name": f"Rule {alias}",
        "description": None,
        "inputSchema": None,
        "outputSchema": None,
        "version": 0,
        "lastUpdate": 1764364980000,
        "createdIn": 1764364980000,
        "status": None,
        "baseId": None,
        "ruleId": None,
        "type": "integration-flow",
        "tags": None,
        "auditLog": None,
        "ruleAlias": alias,
        "locked": None,
        "nodes": ECHO_NODES,
        "workflowData": None,
    }
    return body | fields


def test_every_endpoint_with_a_management_key(idle: Api) -> None:
    alias = new_alias()

    # the SDKs POST to /api/rule/ (with the slash)
    created = call(idle, "POST", "/api/rule/", json=java_style(alias, tags=["e2e"]))
    assert created.status_code == 201, created.text
    rule = created.json()
    base_id = rule["baseId"]
    assert created.headers["location"] == f"/api/rule/{base_id}/1"
    assert rule["ruleId"] == base_id and rule["ruleAlias"] == alias
    assert (rule["version"], rule["status"], rule["type"]) == (1, "pending", "integration-flow")
    assert rule["nodes"] == ECHO_NODES and rule["tags"] == ["e2e"]
    assert rule["createdIn"].endswith("Z") and len(rule["createdIn"]) == 24  # milliseconds
    assert call(idle, "GET", f"/api/rule/{alias}").json() == rule
    assert call(idle, "GET", f"/api/rule/{base_id}/1").json() == rule

    updated = call(idle, "PUT", f"/api/rule/{alias}/1", json=rule | {"description": "changed"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "changed"
    assert updated.json()["lastUpdate"] >= rule["lastUpdate"]

    published = call(idle, "PUT", f"/api/rule/status/{alias}/published/1")
    assert published.status_code == 200 and published.json()["status"] == "published"

    second = call(idle, "POST", f"/api/rule/{alias}/new-version", json=published.json())
    assert second.status_code == 201, second.text
    assert (second.json()["version"], second.json()["status"]) == (2, "published")
    assert second.headers["location"] == f"/api/rule/{base_id}/2"

    items = call(idle, "GET", "/api/space/items")
    assert items.status_code == 200
    mine = [item for item in items.json() if item["ruleAlias"] == alias]
    assert [(i["version"], i["status"], i["description"]) for i in mine] == [
        (1, "published", "changed"),
        (2, "published", "changed"),
    ]
    assert "nodes" not in mine[0]

    assert call(idle, "DELETE", f"/api/rule/{alias}/2").status_code == 204
    assert call(idle, "GET", f"/api/rule/{alias}/latest").json()["version"] == 1
    deleted = call(idle, "DELETE", f"/api/rule/{alias}")  # every version
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(call(idle, "GET", f"/api/rule/{alias}"), 404, "RULE_NOT_FOUND")


def test_a_yaml_flow_document_is_a_rule_body(idle: Api) -> None:
    text = (FLOWS / "echo.yaml").read_text().replace("alias: echo", f"alias: {new_alias()}")
    yaml = {"Content-Type": "application/yaml"}

    created = call(idle, "POST", "/api/rule", content=text, headers=yaml)
    again = call(
        idle, "POST", "/api/rule", content=(FLOWS / "echo.yaml").read_bytes(), headers=yaml
    )

    assert created.status_code == 201, created.text
    assert created.json()["description"] == "returns its input and the job's ids at once"
    assert_problem(again, 409, "RULE_ALREADY_EXISTS")  # echo was pushed with the CLI
    dated = text.replace("description:", "settings: {since: 2024-01-01}\ndescription:")
    problems = assert_problem(
        call(idle, "POST", "/api/rule", content=dated, headers=yaml), 400, "INVALID_RULE"
    )["problems"]
    assert problems == [
        "settings.since: a date is not a JSON value (quote it in YAML: '2024-01-01')"
    ]


ENDPOINTS: dict[str, tuple[str, str]] = {
    "create": ("POST", "/api/rule"),
    "get": ("GET", "/api/rule/echo"),
    "get-version": ("GET", "/api/rule/echo/1"),
    "update": ("PUT", "/api/rule/echo"),
    "update-version": ("PUT", "/api/rule/echo/1"),
    "status": ("PUT", "/api/rule/status/echo/published/1"),
    "new-version": ("POST", "/api/rule/echo/new-version"),
    "delete": ("DELETE", "/api/rule/echo/1"),
    "delete-all": ("DELETE", "/api/rule/echo"),
    "space-items": ("GET", "/api/space/items"),
}


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_only_a_management_key_gets_in(idle: Api, endpoint: str) -> None:
    method, path = ENDPOINTS[endpoint]

    solver = call(idle, method, path, key=idle.tenant.key, json={"name": "x"})
    anonymous = call(idle, method, path, key=None, json={"name": "x"})

    assert_problem(solver, 403, "WRONG_KEY_KIND")
    assert_problem(anonymous, 401, "UNAUTHORIZED")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")


def test_a_rule_of_another_space_is_not_found(servers: Servers, idle_b: Api) -> None:
    created = cli(
        servers.idle.url, "key", "create", "--space", "idle-b", "--kind", "management", "--json"
    )
    key_b = created["key"]
    base_id = servers.idle.a.rules["echo"]["baseId"]

    for method, path in (("GET", f"/api/rule/{base_id}"), ("DELETE", "/api/rule/echo/1")):
        assert_problem(call(idle_b, method, path, key=key_b), 404, "RULE_NOT_FOUND")
    assert call(idle_b, "GET", "/api/space/items", key=key_b).json() == []


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("PUT", "/api/rule/status/echo/live/1", "INVALID_REQUEST"),
        ("GET", "/api/rule/echo/first", "INVALID_VERSION"),
        ("DELETE", "/api/rule/echo/0", "INVALID_VERSION"),
        ("GET", "/api/rule/echo/99", "RULE_VERSION_NOT_FOUND"),
    ],
)
def test_bad_status_or_version(idle: Api, method: str, path: str, code: str) -> None:
    response = call(idle, method, path)

    assert_problem(response, 404 if code.endswith("NOT_FOUND") else 400, code)


def test_validation_errors_list_every_problem(idle: Api) -> None:
    body = {
        "name": "Broken",
        "ruleAlias": "not an alias",
        "status": "live",
        "tags": "x",
        "inputSchema": {"type": "objekt"},
        "nodes": [
            {"id": "a", "type": "assign", "set": {"v": "1 +"}},
            {"id": "a", "type": "frobnicate"},
            {"id": "c", "type": "call", "flow": "no-such-flow"},
        ],
    }

    response = call(idle, "POST", "/api/rule", json=body)

    problems = assert_problem(response, 400, "INVALID_RULE")["problems"]
    text = "\n".join(problems)
    for expected in ("status:", "alias:", "tags:", "inputSchema.type", "set.v", "frobnicate"):
        assert expected in text, (expected, text)
    assert len(problems) >= 6
    not_json = call(idle, "POST", "/api/rule", content=b"{", headers={"Content-Type": "x"})
    assert_problem(not_json, 400, "INVALID_JSON")


def test_a_flow_created_over_http_runs_and_checks_its_input(live: Api) -> None:
    alias = new_alias()
    body = java_style(alias, status="published", inputSchema=ORDER_SCHEMA)
    assert call(live, "POST", "/api/rule", json=body).status_code == 201

    job = live.start_ok(alias, {"orderId": "A1", "qty": 2})
    done = live.wait_final(job["jobId"])
    refused = live.start(alias, json={"orderId": 5, "qty": 0})

    assert done["status"]["state"] == "COMPLETED", done
    assert done["output"] == [{"got": {"orderId": "A1", "qty": 2}}]
    problems = assert_problem(refused, 400, "INVALID_INPUT")["problems"]
    assert problems == [
        "input.orderId: 5 is not of type 'string'",
        "input.qty: 0 is less than the minimum of 1",
    ]


def test_deleting_a_version_that_jobs_wait_for_is_a_conflict(idle: Api) -> None:
    alias = new_alias()
    assert call(idle, "POST", "/api/rule", json=java_style(alias, status="published")).is_success
    job = idle.start_ok(alias, {"x": 1})  # nothing runs on the idle server: it waits

    conflict = call(idle, "DELETE", f"/api/rule/{alias}/1")
    assert_problem(conflict, 409, "RULE_VERSION_IN_USE")
    assert call(idle, "GET", f"/api/rule/{alias}/1").status_code == 200

    assert idle.cancel(job["jobId"]).json()["status"]["state"] == "CANCELED"
    assert call(idle, "DELETE", f"/api/rule/{alias}/1").status_code == 204
    assert_problem(idle.start(alias), 404, "RULE_NOT_FOUND")


def test_openapi_describes_the_management_api(idle: Api) -> None:
    document = idle.client.get(idle.base_url + "/openapi.json").json()
    paths: dict[str, dict[str, Any]] = document["paths"]
    ok: Callable[[str, str], bool] = lambda path, method: method in paths.get(path, {})  # noqa: E731

    for path, method in (
        ("/api/rule", "post"),
        ("/api/rule/{identifier}/{version}", "put"),
        ("/api/rule/status/{identifier}/{status}/{version}", "put"),
        ("/api/rule/{identifier}/new-version", "post"),
        ("/api/rule/{identifier}/{version}", "delete"),
        ("/api/space/items", "get"),
    ):
        assert ok(path, method), (method, path)
    body = paths["/api/rule"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"name", "ruleAlias", "nodes", "handler", "inputSchema"} <= set(body["properties"])
    assert {"ruleId", "baseId", "nodes", "lastUpdate"} <= set(
        document["components"]["schemas"]["Rule"]["properties"]
    )
