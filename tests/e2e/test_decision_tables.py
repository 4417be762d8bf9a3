"""Decision tables over HTTP: the nine DecisionRules samples created with
``createRule`` and read back unchanged, the Solver API (every strategy, bulk,
options, headers, audits, errors), isolation between spaces, import and
export round trips, and the flow node ``rule`` inside a real job.

The tables live in spaces of their own (created here with the CLI) so that
their aliases are the samples' own."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowjobs.decisions import compile_rule
from support.processes import Tenant

from .conftest import Servers, cli
from .helpers import Api, assert_problem

SAMPLES = Path(__file__).parents[1] / "data" / "decisionrules"
TABLES = (
    "Bank_Solver_v1.json",
    "Benefit_Program_Sample_v1.json",
    "Clients_v1.json",
    "Plant_Items_Example_v1.json",
    "Segment_v1.json",
    "Solve_Example_v1.json",
    "Test_v2.json",
    "loan_sorter_v1.json",
    "loan_type_v1.json",
)
SERVER_FIELDS = {"ruleId", "baseId", "version", "status", "createdIn", "lastUpdate"}
STRATEGIES = ("STANDARD", "FIRST_MATCH", "ARRAY", "EVALUATE_ALL")
PRICING_INPUT = {"productType": "basic_1", "period": "month", "promoCode": "SUMMER SALE"}


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return document


@dataclass
class Space:
    """A space of its own on the live server: Solver and Management keys."""

    client: httpx.Client
    base_url: str
    id: str
    name: str
    solver_key: str
    management_key: str

    def management(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.management_key}"} | kw.pop("headers", {})
        return self.client.request(method, self.base_url + path, headers=headers, **kw)

    def solve(
        self, rule: str, data: Any, version: str | int | None = None, **kw: Any
    ) -> httpx.Response:
        path = f"/rule/solve/{rule}" + ("" if version is None else f"/{version}")
        headers = {"Authorization": f"Bearer {self.solver_key}"} | kw.pop("headers", {})
        body = kw.pop("body", {"data": data})
        return self.client.post(self.base_url + path, headers=headers, json=body, **kw)


def new_space(servers: Servers, client: httpx.Client) -> Space:
    url = servers.live.url
    name = f"dt-{uuid.uuid4().hex[:8]}"
    space = cli(url, "space", "create", name, "--parallel-limit", "4", "--json")
    solver = cli(url, "key", "create", "--space", name, "--json")
    management = cli(url, "key", "create", "--space", name, "--kind", "management", "--json")
    assert servers.worker.base_url is not None
    return Space(
        client, servers.worker.base_url, space["id"], name, solver["key"], management["key"]
    )


@pytest.fixture(scope="module")
def tables(servers: Servers, client: httpx.Client) -> Space:
    """A space with the nine sample tables created through the Management API."""
    space = new_space(servers, client)
    for name in TABLES:
        response = space.management("POST", "/api/rule/", json=sample(name))
        assert response.status_code == 201, response.text
    return space


@pytest.fixture(scope="module")
def other(servers: Servers, client: httpx.Client) -> Space:
    return new_space(servers, client)


def alias_of(name: str, space: Space) -> str:
    """The alias a sample got: its own, or its name as a slug."""
    body = sample(name)
    if body.get("ruleAlias"):
        return str(body["ruleAlias"])
    listed = space.management("GET", "/api/space/items").json()
    return next(item["ruleAlias"] for item in listed if item["name"] == body["name"])


# ---- the Management API -------------------------------------------------------------


@pytest.mark.parametrize("name", TABLES)
def test_get_rule_gives_back_what_create_rule_sent(tables: Space, name: str) -> None:
    body = sample(name)
    got = tables.management("GET", f"/api/rule/{alias_of(name, tables)}")
    assert got.status_code == 200
    answer = got.json()
    assert {k: v for k, v in answer.items() if k not in SERVER_FIELDS | {"ruleAlias"}} == {
        k: v for k, v in body.items() if k not in SERVER_FIELDS | {"ruleAlias"}
    }
    assert answer["version"] == 1 and answer["status"] == "published"
    assert answer["ruleId"] == answer["baseId"]


def test_an_invalid_table_is_refused_with_every_problem(tables: Space) -> None:
    body = sample("Segment_v1.json")
    broken = json.loads(json.dumps(body))
    broken["ruleAlias"] = "broken-segment"
    cell = broken["decisionTable"]["rows"][1]["cells"][0]
    cell["scalarCondition"]["operator"] = "NO SUCH OPERATOR"
    response = tables.management("POST", "/api/rule", json=broken)
    problem = assert_problem(response, 400, "INVALID_RULE")
    assert any(p.startswith("row 2, column ") for p in problem["problems"]), problem
    validated = tables.management("POST", "/api/rule/validate", json=broken).json()
    assert validated["valid"] is False
    assert validated["problems"] == problem["problems"]
    good = tables.management("POST", "/api/rule/validate", json=body).json()
    assert good == {"valid": True, "problems": []}


# ---- the Solver API -----------------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_gives_the_package_result(tables: Space, strategy: str) -> None:
    expected = compile_rule(sample("Test_v2.json")).solve(PRICING_INPUT, strategy=strategy)
    response = tables.solve("test", PRICING_INPUT, headers={"X-Strategy": strategy})
    assert response.status_code == 200, response.text
    assert response.json() == json.loads(json.dumps(expected))


def test_an_unknown_strategy_is_standard(tables: Space) -> None:
    standard = tables.solve("test", PRICING_INPUT).json()
    assert tables.solve("test", PRICING_INPUT, headers={"X-Strategy": "NOPE"}).json() == standard
    assert standard  # a row matched


def test_bulk_gives_one_result_per_input_in_order(tables: Space) -> None:
    inputs = [
        PRICING_INPUT,
        {**PRICING_INPUT, "period": "year"},
        {"productType": "none", "period": "none", "promoCode": ""},
    ]
    single = [tables.solve("test", data).json() for data in inputs]
    response = tables.solve("test", inputs)
    assert response.status_code == 200
    assert response.json() == single


def test_a_big_bulk_is_answered_in_order(tables: Space) -> None:
    inputs = [{**PRICING_INPUT, "period": ("month", "year")[i % 2]} for i in range(500)]
    results = tables.solve("test", inputs).json()
    assert len(results) == 500
    assert results[0] == results[2] and results[1] == results[3]


def test_solve_example_passes_on_every_row(tables: Space) -> None:
    response = tables.solve("solve-example", {"filter": "active"})
    assert response.status_code == 200, response.text
    rows = response.json()
    assert len(rows) == 10
    assert [row["pass"] for row in rows] == [True] * 10, rows


def test_options_exclude_a_condition_column(tables: Space) -> None:
    data = {**PRICING_INPUT, "promoCode": "no such code"}
    body = {"data": data, "options": {"excludedConditionCols": ["promoCode"]}}
    expected = compile_rule(sample("Test_v2.json")).solve(data)
    excluded = tables.solve("test", None, body=body)
    assert excluded.status_code == 200
    assert len(excluded.json()) >= len(expected)


def test_correlation_id_is_echoed_or_generated(tables: Space) -> None:
    given = tables.solve("test", PRICING_INPUT, headers={"X-Correlation-Id": "corr-42"})
    assert given.headers["X-Correlation-Id"] == "corr-42"
    generated = tables.solve("test", PRICING_INPUT).headers["X-Correlation-Id"]
    assert uuid.UUID(generated)
    failed = tables.solve("missing-rule", {}, headers={"X-Correlation-Id": "corr-43"})
    assert failed.status_code == 404 and failed.headers["X-Correlation-Id"] == "corr-43"


def test_an_audited_solve_is_readable_by_id(tables: Space, other: Space) -> None:
    headers = {"X-Audit": "true", "X-Audit-Ttl": "2", "X-Correlation-Id": "audited"}
    response = tables.solve("segment", {}, headers=headers, body={"data": {"a": 1}})
    assert response.status_code == 200
    audit_id = response.headers["X-Audit-Id"]
    audit = tables.management("GET", f"/api/audit/{audit_id}").json()
    assert audit["correlationId"] == "audited"
    assert audit["request"] == {"data": {"a": 1}}
    assert audit["response"] == response.json()
    assert other.management("GET", f"/api/audit/{audit_id}").status_code == 404
    assert "X-Audit-Id" not in tables.solve("segment", {}).headers
    bad_ttl = tables.solve("segment", {}, headers={"X-Audit": "true", "X-Audit-Ttl": "x"})
    assert_problem(bad_ttl, 400, "INVALID_AUDIT_TTL")


def test_the_sdk_path_with_a_trailing_slash(tables: Space) -> None:
    response = tables.client.post(
        f"{tables.base_url}/rule/solve/test/",
        headers={"Authorization": f"Bearer {tables.solver_key}"},
        json={"data": PRICING_INPUT},
    )
    assert response.status_code == 200
    assert response.json() == tables.solve("test", PRICING_INPUT).json()


def test_errors_are_problems(tables: Space, other: Space) -> None:
    assert_problem(tables.solve("no-such-rule", {}), 404, "RULE_NOT_FOUND")
    assert_problem(tables.solve("test", {}, version=9), 404, "RULE_VERSION_NOT_FOUND")
    assert_problem(tables.solve("test", {}, version="x"), 400, "INVALID_VERSION")
    assert_problem(tables.solve("test", {}, body=[1]), 400, "INVALID_SOLVE_BODY")
    assert_problem(tables.solve("test", {}, body={"input": {}}), 400, "INVALID_SOLVE_BODY")
    bad_options = {"data": {}, "options": {"includedConditionCols": "promoCode"}}
    assert_problem(tables.solve("test", {}, body=bad_options), 400, "SOLVE_ERROR")
    not_json = tables.client.post(
        f"{tables.base_url}/rule/solve/test",
        headers={"Authorization": f"Bearer {tables.solver_key}"},
        content=b"{nope",
    )
    assert_problem(not_json, 400, "INVALID_JSON")
    management = tables.client.post(
        f"{tables.base_url}/rule/solve/test",
        headers={"Authorization": f"Bearer {tables.management_key}"},
        json={"data": {}},
    )
    assert_problem(management, 403, "WRONG_KEY_KIND")
    anonymous = tables.client.post(f"{tables.base_url}/rule/solve/test", json={"data": {}})
    assert_problem(anonymous, 401, "UNAUTHORIZED")


def test_another_spaces_rule_is_not_found(tables: Space, other: Space) -> None:
    rule_id = tables.management("GET", "/api/rule/test").json()["ruleId"]
    assert_problem(other.solve("test", PRICING_INPUT), 404, "RULE_NOT_FOUND")
    assert_problem(other.solve(rule_id, PRICING_INPUT), 404, "RULE_NOT_FOUND")


def test_a_pending_version_is_not_solved(tables: Space) -> None:
    body = {**sample("Segment_v1.json"), "status": "pending", "description": "pending one"}
    created = tables.management("POST", "/api/rule/segment/new-version", json=body)
    assert created.status_code == 201 and created.json()["status"] == "pending"
    version = created.json()["version"]
    assert_problem(tables.solve("segment", {}, version=version), 400, "RULE_NOT_PUBLISHED")
    latest = tables.solve("segment", {})  # the latest published: version 1
    assert latest.status_code == 200
    tables.management("PUT", f"/api/rule/status/segment/published/{version}")
    assert tables.solve("segment", {}, version=version).status_code == 200


def test_an_integration_flow_is_not_solved(tables: Space) -> None:
    flow = {"name": "f", "alias": "a-flow", "nodes": [{"id": "e", "type": "end"}]}
    assert tables.management("POST", "/api/rule", json={**flow, "status": "published"}).is_success
    assert_problem(tables.solve("a-flow", {}), 400, "RULE_NOT_SOLVABLE")


# ---- the flow node `rule` -------------------------------------------------------------


def test_a_rule_node_solves_a_stored_table_inside_a_job(tables: Space) -> None:
    temporary = {**sample("Segment_v1.json"), "ruleAlias": "segment-for-a-while"}
    assert tables.management("POST", "/api/rule", json=temporary).status_code == 201
    flow = {
        "name": "Price an order",
        "alias": "price-order-with-table",
        "status": "published",
        "nodes": [
            {
                "id": "price",
                "type": "rule",
                "rule": "test",
                "strategy": "FIRST_MATCH",
                "input": "input.order",
            },
            {"id": "gone", "type": "rule", "rule": "segment-for-a-while", "onError": {"as": "err"}},
            {"id": "done", "type": "end", "output": '{"price": price, "error": vars.err.type}'},
        ],
    }
    created = tables.management("POST", "/api/rule", json=flow)
    assert created.status_code == 201, created.text
    # unpublished after the push: the node fails when it runs
    tables.management("PUT", "/api/rule/status/segment-for-a-while/pending")
    api = Api(tables.client, tables.base_url, Tenant(tables.id, tables.solver_key, ""))
    job = api.start_ok("price-order-with-table", {"order": PRICING_INPUT})
    done = api.wait_final(job["jobId"])
    assert done["status"]["state"] == "COMPLETED", done
    expected = tables.solve("test", PRICING_INPUT, headers={"X-Strategy": "FIRST_MATCH"}).json()
    assert done["output"] == [{"price": expected, "error": "RuleError"}]


def test_a_rule_node_of_a_missing_table_is_refused_at_push(tables: Space) -> None:
    nodes = [{"id": "p", "type": "rule", "rule": "no-such-table"}]
    flow = {"name": "Missing", "alias": "missing-table-node", "nodes": nodes}
    problem = assert_problem(tables.management("POST", "/api/rule", json=flow), 400, "INVALID_RULE")
    assert "solves a missing decision table: no-such-table" in problem["problems"]
    nodes = [{"id": "p", "type": "rule", "rule": "test", "version": 9}]
    flow = {**flow, "nodes": nodes}
    problem = assert_problem(tables.management("POST", "/api/rule", json=flow), 400, "INVALID_RULE")
    assert any("no such published version: test version 9" in p for p in problem["problems"])


def test_a_rule_node_of_an_unknown_strategy_is_refused_at_push(tables: Space) -> None:
    node = {"id": "p", "type": "rule", "rule": "test", "strategy": "SOMETIMES"}
    flow = {"name": "Bad", "alias": "bad-rule-node", "nodes": [node]}
    assert_problem(tables.management("POST", "/api/rule", json=flow), 400, "INVALID_RULE")


# ---- import and export --------------------------------------------------------------


def test_a_rule_flow_imports_solves_and_round_trips(other: Space) -> None:
    exported = json.loads((SAMPLES / "Import-RuleFlow-example.json").read_text())
    first = other.management("POST", "/api/rule-flow/import", json=exported)
    assert first.status_code == 201, first.text
    table, flow = first.json()
    assert (table["type"], flow["type"]) == ("decision-table", "composition")
    assert flow["status"] == "pending"  # as exported
    assert_problem(other.solve(flow["ruleAlias"], {}), 400, "RULE_NOT_PUBLISHED")
    other.management("PUT", f"/api/rule/status/{flow['ruleId']}/published")
    data = {"productType": "basic", "period": "month", "promoCode": "SUMMER SALE"}
    solved = other.solve(flow["ruleAlias"], data)
    assert solved.status_code == 200, solved.text
    (output,) = solved.json()
    headers = {"X-Strategy": "FIRST_MATCH"}
    (row,) = other.solve(table["ruleId"], data, headers=headers).json()
    expected = {**row["prices"], "message": row["message"]}
    assert output == expected
    again = other.management("GET", f"/api/export/{flow['ruleId']}").json()
    second = other.management("POST", "/api/import", json=again).json()
    assert [r["version"] for r in second] == [2, 2]
    assert [r["ruleId"] for r in second] == [table["ruleId"], flow["ruleId"]]


def test_the_space_exports_as_a_folder_and_imports_as_new_versions(
    servers: Servers, client: httpx.Client, tables: Space
) -> None:
    folder = tables.management("GET", "/api/folder/export").json()
    assert folder["export"]["exportType"] == "FOLDER"
    target = new_space(servers, client)
    first = target.management("POST", "/api/import", json=folder).json()
    assert isinstance(first, list), first
    second = target.management("POST", "/api/import", json=folder).json()
    assert {r["version"] for r in first} == {1}
    assert {r["version"] for r in second} == {2}
    assert {r["ruleId"] for r in first} == {r["ruleId"] for r in second}


def test_cli_import_and_export_round_trip(servers: Servers, tmp_path: Path) -> None:
    url = servers.live.url
    name = f"dt-cli-{uuid.uuid4().hex[:8]}"
    cli(url, "space", "create", name, "--json")
    folder = str(SAMPLES / "import_folder_example.json")
    imported = cli(url, "rule", "import", folder, "--space", name, "--json")
    assert len(imported["rules"]) == 2
    for table in TABLES:
        cli(url, "rule", "import", str(SAMPLES / table), "--space", name, "--json")
    out = tmp_path / "space.json"
    from typer.testing import CliRunner

    from flowjobs.cli import app

    result = CliRunner().invoke(
        app, ["--database-url", url, "rule", "export", "--space", name, "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    again = cli(url, "rule", "import", str(out), "--space", name, "--json")
    assert len(again["rules"]) == 11
    assert {r["version"] for r in again["rules"]} == {2}


@pytest.mark.parametrize("data", [None, "text", 5, [], [None, 5, "x"], {"productType": [1]}])
def test_odd_inputs_are_solved_never_a_server_error(tables: Space, data: Any) -> None:
    response = tables.solve("test", data)
    assert response.status_code == 200, response.text
    if isinstance(data, list):
        assert len(response.json()) == len(data)
