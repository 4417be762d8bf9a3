"""DecisionRules decision tables and rule flows as stored rules, on real
SQLite and PostgreSQL: created as the SDK's ``createRule`` sends them, read
back as the same document, versioned and published like flows; the Solver
API's rule lookup (published versions only) and its audits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowjobs.domain import RULE_TYPE_TABLE, RuleStatus
from flowjobs.errors import (
    AuditNotFoundError,
    FlowValidationError,
    InvalidRuleError,
    RuleNotPublishedError,
    RuleVersionNotFoundError,
)
from flowjobs.rules import RuleService
from flowjobs.schemas import dr_rule_document
from flowjobs.solver import SolverService
from flowjobs.solver.audit import AuditRequest
from flowjobs.store.audits import SolveAudit
from support.env import Env

SAMPLES = Path(__file__).parents[1] / "data" / "decisionrules"
TABLES = sorted(
    path.name
    for path in SAMPLES.glob("*.json")
    if isinstance(json.loads(path.read_text()), dict)
    and json.loads(path.read_text()).get("type") == RULE_TYPE_TABLE
)
SERVER_FIELDS = {"ruleId", "baseId", "version", "status", "createdIn", "lastUpdate", "_id"}


def sample(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SAMPLES / name).read_text())
    return document


def test_the_nine_samples_are_found() -> None:
    assert len(TABLES) == 9


@pytest.mark.parametrize("name", TABLES)
async def test_create_rule_gives_the_same_document_back(env: Env, name: str) -> None:
    space, _ = await env.space_with_key("tables")
    rules = RuleService(env.catalog)
    body = sample(name)
    created = await rules.create(space.id, body)
    assert created.type == RULE_TYPE_TABLE
    assert created.version == 1
    assert created.status.value == body.get("status", "published")
    answer = dr_rule_document(await rules.get(space.id, created.base_id, None))
    for field, value in body.items():
        if field not in SERVER_FIELDS:
            assert answer[field] == value, field
    assert answer["ruleId"] == created.base_id
    assert answer["version"] == 1
    assert answer["type"] == "decision-table"
    assert answer["createdIn"].endswith("Z")


async def test_versions_status_and_update_like_flows(env: Env) -> None:
    space, _ = await env.space_with_key("tables")
    rules = RuleService(env.catalog)
    body = sample("Test_v2.json")
    created = await rules.create(space.id, body)
    second = await rules.new_version(
        space.id, "test", {**body, "status": None, "description": "v2"}
    )
    assert (second.version, second.status) == (2, RuleStatus.PENDING)
    assert second.document["description"] == "v2"
    assert second.document["decisionTable"] == body["decisionTable"]
    updated = await rules.update(space.id, created.base_id, "1", {"description": "first"})
    assert updated.document["description"] == "first"
    assert updated.document["decisionTable"] == body["decisionTable"]  # kept
    published = await rules.set_status(space.id, "test", RuleStatus.PUBLISHED, "2")
    assert published.status is RuleStatus.PUBLISHED
    await rules.delete(space.id, "test", "1")
    assert [v.version for v in await env.store.find_rule_versions(space.id, "test")] == [2]


async def test_a_table_cannot_become_a_flow(env: Env) -> None:
    space, _ = await env.space_with_key("tables")
    rules = RuleService(env.catalog)
    await rules.create(space.id, sample("Segment_v1.json"))
    with pytest.raises(InvalidRuleError, match="type"):
        await rules.new_version(space.id, "segment", {"type": "integration-flow", "nodes": []})


async def test_push_stores_an_export_without_its_server_fields(env: Env) -> None:
    space, _ = await env.space_with_key("tables")
    body = sample("Bank_Solver_v1.json")
    first = await env.catalog.push_rule(space.id, body, publish=True)
    again = await env.catalog.push_rule(space.id, body, publish=True)
    assert (first.version, again.version) == (1, 1)  # unchanged: the same version
    assert not SERVER_FIELDS & first.document.keys()
    changed = await env.catalog.push_rule(space.id, {**body, "description": "x"}, publish=False)
    assert changed.version == 2 and changed.base_id == first.base_id


async def test_solver_finds_only_published_versions(env: Env) -> None:
    space, _ = await env.space_with_key("tables")
    rules = RuleService(env.catalog)
    solver = SolverService(env.store, cache_seconds=0)
    await rules.create(space.id, {**sample("Segment_v1.json"), "status": "pending"})
    with pytest.raises(RuleNotPublishedError, match="Rule state is not published"):
        await solver.find(space.id, "segment", None)
    with pytest.raises(RuleNotPublishedError):
        await solver.find(space.id, "segment", 1)
    with pytest.raises(RuleVersionNotFoundError):
        await solver.find(space.id, "segment", 7)
    await rules.set_status(space.id, "segment", RuleStatus.PUBLISHED, None)
    assert (await solver.find(space.id, "segment", None)).version == 1


async def test_audits_are_kept_per_space_and_pruned(env: Env) -> None:
    space, key = await env.space_with_key("audited")
    other, _ = await env.space_with_key("other")
    rules = RuleService(env.catalog)
    await rules.create(space.id, sample("Segment_v1.json"))
    solver = SolverService(env.store, cache_seconds=0)
    audit_id = await solver.record_audit(
        key, "segment", None, {"data": {"a": 1}}, [{"b": 2}], AuditRequest(True, 1.0, "corr-1")
    )
    found = await solver.audit(space.id, audit_id)
    assert (found.correlation_id, found.request, found.response) == (
        "corr-1",
        {"data": {"a": 1}},
        [{"b": 2}],
    )
    with pytest.raises(AuditNotFoundError):
        await solver.audit(other.id, audit_id)
    past = datetime.now(UTC) - timedelta(days=1)
    expired = SolveAudit(
        "00000000-0000-0000-0000-000000000001",
        space.id,
        found.base_id,
        1,
        "old",
        {},
        None,
        past - timedelta(days=1),
        past,
    )
    await env.store.insert_audit(expired)
    await env.store.prune_finished(datetime.now(UTC))
    with pytest.raises(AuditNotFoundError):
        await solver.audit(space.id, expired.id)
    assert (await solver.audit(space.id, audit_id)).id == audit_id


async def test_import_a_rule_flow_with_its_table_twice(env: Env) -> None:
    space, _ = await env.space_with_key("imports")
    rules = RuleService(env.catalog)
    exported = json.loads((SAMPLES / "Import-RuleFlow-example.json").read_text())
    first = await rules.import_rules(space.id, exported)
    assert [rule.type for rule in first] == ["decision-table", "composition"]
    table, flow = first
    tree = flow.document["dataTree"]
    assert tree["children"][0]["baseId"] == table.base_id  # remapped to the id here
    second = await rules.import_rules(space.id, exported)
    assert [(r.base_id, r.version) for r in second] == [(table.base_id, 2), (flow.base_id, 2)]
    assert len({v.base_id for v in await env.store.list_rule_versions(space.id)}) == 2
    exported_again = await rules.export(space.id, flow.base_id, None)
    assert [d["type"] for d in exported_again] == ["composition", "decision-table"]
    third = await rules.import_rules(space.id, exported_again)
    assert [r.version for r in third] == [3, 3]


async def test_import_a_folder_export_and_export_the_space(env: Env) -> None:
    space, _ = await env.space_with_key("folders")
    rules = RuleService(env.catalog)
    exported = json.loads((SAMPLES / "import_folder_example.json").read_text())
    imported = await rules.import_rules(space.id, exported)
    assert sorted(r.alias for r in imported) == ["interested-mackerel", "specific-roadrunner"]
    assert {r.type for r in imported} == {"complex-rule"}  # kept as they are, not solvable
    folder = await rules.export_space(space.id, "folders")
    assert folder["export"]["exportType"] == "FOLDER"
    again = await rules.import_rules(space.id, folder)
    assert sorted(r.version for r in again) == [2, 2]


@pytest.mark.parametrize("name", TABLES)
async def test_every_sample_table_imports_unchanged(env: Env, name: str) -> None:
    space, _ = await env.space_with_key("imports")
    rules = RuleService(env.catalog)
    body = sample(name)
    (rule,) = await rules.import_rules(space.id, body)
    exported = await rules.export(space.id, rule.base_id, None)
    assert {k: v for k, v in exported.items() if k not in SERVER_FIELDS} == {
        k: v for k, v in body.items() if k not in SERVER_FIELDS and k != "ruleAlias"
    } | {"ruleAlias": rule.alias}


async def test_a_bad_import_writes_nothing(env: Env) -> None:
    space, _ = await env.space_with_key("imports")
    rules = RuleService(env.catalog)
    good = sample("Segment_v1.json")
    with pytest.raises(InvalidRuleError, match="name"):
        await rules.import_rules(space.id, [good, {**good, "name": "", "ruleAlias": "x"}])
    assert await env.store.list_rule_versions(space.id) == []
    with pytest.raises(InvalidRuleError, match="folder export"):
        await rules.import_rules(space.id, 42)


async def test_push_lists_every_problem_with_row_and_column(env: Env) -> None:
    space, _ = await env.space_with_key("tables")
    body = sample("Test_v2.json")
    rows = body["decisionTable"]["rows"]
    rows[0]["cells"][0]["scalarCondition"]["operator"] = "XX"
    rows[2]["cells"][4]["outputScalarValue"] = {"type": "function", "value": "NO_SUCH_FN(1)"}
    rows[3]["cells"][5]["outputScalarValue"] = {"type": "common", "value": "{missing.var}"}
    rows[4]["cells"].append({"type": "input", "column": 99, "scalarCondition": {"operator": "="}})
    with pytest.raises(FlowValidationError) as caught:
        await env.catalog.push_rule(space.id, body, publish=True)
    problems = caught.value.problems
    assert any(p.startswith("row 1, column 'Product type'") and "XX" in p for p in problems)
    assert any(p.startswith("row 3, column 'Final price'") and "NO_SUCH_FN" in p for p in problems)
    assert any(p.startswith("row 4, column 'Message'") and "missing.var" in p for p in problems)
    assert any(p.startswith("row 5") and "99" in p for p in problems)
    assert await env.store.list_rule_versions(space.id) == []


async def test_a_version_is_compiled_once_and_again_after_an_update(env: Env) -> None:
    space, _ = await env.space_with_key("compiled")
    rules = RuleService(env.catalog)
    solver = SolverService(env.store)
    body = sample("Segment_v1.json")
    await rules.create(space.id, body)
    data = {"client": {"age": 30}}
    first = [await solver.solve(space.id, "segment", None, data) for _ in range(5)]
    assert solver.compiled.compiles == 1 and first.count(first[0]) == 5
    changed = json.loads(json.dumps(body))
    changed["decisionTable"]["rows"] = changed["decisionTable"]["rows"][:1]
    await rules.update(space.id, "segment", None, {"decisionTable": changed["decisionTable"]})
    await solver.solve(space.id, "segment", None, data)
    assert solver.compiled.compiles == 2


async def test_recording_an_audit_prunes_expired_ones(env: Env) -> None:
    space, key = await env.space_with_key("audited")
    await RuleService(env.catalog).create(space.id, sample("Segment_v1.json"))
    past = datetime.now(UTC) - timedelta(days=1)
    expired = SolveAudit(
        "00000000-0000-0000-0000-000000000002",
        space.id,
        "b",
        1,
        "old",
        {},
        None,
        past - timedelta(days=1),
        past,
    )
    await env.store.insert_audit(expired)
    solver = SolverService(env.store)
    await solver.record_audit(key, "segment", None, {}, [], AuditRequest(True, 1.0, "new"))
    assert await env.store.prune_audits(datetime.now(UTC)) == 0  # already gone
