"""The official DecisionRules JS SDK (npm @decisionrules/decisionrules,
pinned in tests/e2e/js/package.json with its lock file) against a flowjobs
server, unchanged: createRule and getRule with a Management key, solve with
every strategy, a bulk, a version, a correlation id and an audit.

npm 's registry has only 1.0.0 of the package; its request code for these
calls is that of the 2.0.0 sources in the reference (``solver.ts``,
``management.ts``): the same paths, headers and bodies."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import Servers
from .test_decision_tables import PRICING_INPUT, STRATEGIES, Space, new_space, sample

JS = Path(__file__).parent / "js"


@pytest.fixture(scope="session")
def sdk() -> Path:
    """tests/e2e/js with its node_modules, installed once per session (npm ci)."""
    npm = shutil.which("npm")
    assert npm is not None and shutil.which("node"), "Node 20 and npm are needed"
    if not (JS / "node_modules" / "@decisionrules" / "decisionrules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=True, timeout=300)
    return JS


def run_sdk(space: Space, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    job = {
        "host": space.base_url,
        "solverKey": space.solver_key,
        "managementKey": space.management_key,
        "calls": calls,
    }
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run(
        [node, "solve.js"],
        cwd=JS,
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    return results


@pytest.fixture(scope="module")
def space(servers: Servers, client: httpx.Client) -> Space:
    return new_space(servers, client)


def test_create_rule_and_get_rule(sdk: Path, space: Space) -> None:
    body = sample("Test_v2.json")
    created, got = run_sdk(
        space,
        [{"op": "createRule", "rule": body}, {"op": "getRule", "rule": "test"}],
    )
    assert created["ok"], created
    assert got["ok"], got
    assert got["value"]["decisionTable"] == body["decisionTable"]
    assert got["value"]["ruleId"] == created["value"]["ruleId"]


def test_solve_with_every_strategy_bulk_version_and_correlation_id(sdk: Path, space: Space) -> None:
    run_sdk(space, [{"op": "createRule", "rule": sample("Segment_v1.json")}])
    if space.management("GET", "/api/rule/test").status_code == 404:
        space.management("POST", "/api/rule", json=sample("Test_v2.json"))
    calls = [
        {"op": "solve", "rule": "test", "data": PRICING_INPUT, "options": {"strategy": s}}
        for s in STRATEGIES
    ]
    bulk = [PRICING_INPUT, {**PRICING_INPUT, "period": "year"}]
    calls += [
        {"op": "solve", "rule": "test", "data": bulk},
        {"op": "solve", "rule": "test", "data": PRICING_INPUT, "version": "1"},
        {"op": "solve", "rule": "test", "data": PRICING_INPUT, "options": {"corrId": "sdk-7"}},
        {"op": "solve", "rule": "test", "data": PRICING_INPUT, "options": {"audit": True}},
        {"op": "solve", "rule": "no-such-rule", "data": {}},
    ]
    results = run_sdk(space, calls)
    for strategy, result in zip(STRATEGIES, results, strict=False):
        expected = space.solve("test", PRICING_INPUT, headers={"X-Strategy": strategy}).json()
        assert result["ok"] and result["value"] == expected, (strategy, result)
    bulk_result, versioned, correlated, audited, missing = results[len(STRATEGIES) :]
    assert bulk_result["value"] == [space.solve("test", data).json() for data in bulk]
    assert versioned["value"] == results[0]["value"]
    assert correlated["correlationId"] == "sdk-7"
    assert results[0]["correlationId"]  # generated
    assert audited["auditId"]
    audit = space.management("GET", f"/api/audit/{audited['auditId']}").json()
    assert audit["response"] == audited["value"]
    assert (missing["ok"], missing["status"]) == (False, 404)
    assert missing["body"]["code"] == "RULE_NOT_FOUND"
