"""The Solver API's pure parts: picking the version to solve, the SOLVE
callback over preloaded rules, rule flows, and the export formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowjobs.decisions import SolveContext, SolveDepthError, compile_rule
from flowjobs.domain import RuleStatus, RuleVersion
from flowjobs.errors import (
    InvalidVersionError,
    RuleNotFoundError,
    RuleNotPublishedError,
    RuleVersionNotFoundError,
)
from flowjobs.ruleio import (
    ExportFormatError,
    exported_rules,
    folder_export,
    referenced_ids,
    remap_rule_flow,
)
from flowjobs.solver.audit import InvalidAuditTtlError, audit_ttl_days
from flowjobs.solver.ruleflow import CompiledRuleFlow
from flowjobs.solver.ruleflow import referenced_rules as flow_references
from flowjobs.solver.service import MAX_DEPTH, context_for, pick_solvable, version_number

SAMPLES = Path(__file__).parents[1] / "data" / "decisionrules"


def version(number: int, status: RuleStatus, document: dict[str, Any] | None = None) -> RuleVersion:
    return RuleVersion(
        "id", "space", "alias", "n", None, "decision-table", number, status, document or {}
    )


def test_the_latest_published_version_or_the_one_named() -> None:
    versions = [
        version(1, RuleStatus.PUBLISHED),
        version(2, RuleStatus.PUBLISHED),
        version(3, RuleStatus.PENDING),
    ]
    assert pick_solvable(versions, None).version == 2
    assert pick_solvable(versions, 1).version == 1
    with pytest.raises(RuleNotPublishedError, match="Rule state is not published"):
        pick_solvable(versions, 3)
    with pytest.raises(RuleVersionNotFoundError):
        pick_solvable(versions, 4)
    with pytest.raises(RuleNotPublishedError):
        pick_solvable([version(1, RuleStatus.PENDING)], None)


def test_version_numbers_of_the_path() -> None:
    assert [version_number(v) for v in (None, "", "latest", "7")] == [None, None, None, 7]
    with pytest.raises(InvalidVersionError):
        version_number("v2")


def test_audit_ttl_in_days() -> None:
    assert [audit_ttl_days(v) for v in (None, "", "1", "0.5", "365")] == [14, 14, 1, 0.5, 365]
    for bad in ("0", "-1", "x", "nan", "366"):
        with pytest.raises(InvalidAuditTtlError):
            audit_ttl_days(bad)


class Echo:
    """A solvable that answers its input and how deep it was solved."""

    def solve(self, data: Any, *, strategy: str = "STANDARD", options: Any = None,
              context: SolveContext | None = None) -> Any:  # fmt: skip
        assert context is not None
        return [{"got": data, "depth": context.depth, "strategy": strategy}]


def test_the_solve_callback_solves_preloaded_rules_one_level_deeper() -> None:
    context = context_for({("echo", None): Echo()})
    assert context.solve_rule is not None
    answer = context.solve_rule("echo", None, {"a": 1}, "nonsense")
    assert answer == [{"got": {"a": 1}, "depth": 1, "strategy": "STANDARD"}]
    with pytest.raises(RuleNotFoundError, match="'other' version 2"):
        context.solve_rule("other", 2, {}, "STANDARD")
    deepest = context_for({("echo", None): Echo()}, depth=MAX_DEPTH)
    assert deepest.solve_rule is not None
    with pytest.raises(SolveDepthError):
        deepest.solve_rule("echo", None, {}, "STANDARD")


def test_a_rule_flow_maps_inputs_and_outputs_through_its_rules() -> None:
    flow, table = json.loads((SAMPLES / "Import-RuleFlow-example.json").read_text())
    table_id = table["ruleId"]
    assert flow_references(flow) == {(table_id, None)}
    compiled = {(table_id, None): compile_rule(table)}
    data = {"productType": "basic", "period": "month", "promoCode": "SUMMER SALE"}
    (output,) = CompiledRuleFlow(flow).solve(data, context=context_for(compiled))
    (row,) = compile_rule(table).solve(data, strategy="FIRST_MATCH")
    assert output == {**row["prices"], "message": row["message"]}


def test_export_formats_are_read_in_import_order() -> None:
    flow_export = json.loads((SAMPLES / "Import-RuleFlow-example.json").read_text())
    assert [r["type"] for r in exported_rules(flow_export)] == ["decision-table", "composition"]
    folder = json.loads((SAMPLES / "import_folder_example.json").read_text())
    assert len(exported_rules(folder)) == 2
    single = json.loads((SAMPLES / "Segment_v1.json").read_text())
    assert exported_rules(single) == [single]
    for bad in (42, [], {"export": {"data": {}}}, [1]):
        with pytest.raises(ExportFormatError):
            exported_rules(bad)


def test_a_rule_flows_references_are_rewritten() -> None:
    flow, table = json.loads((SAMPLES / "Import-RuleFlow-example.json").read_text())
    remapped = remap_rule_flow(flow, {table["ruleId"]: "new-id"})
    assert referenced_ids(remapped) == ["new-id"]
    assert referenced_ids(flow) == [table["ruleId"]]  # the original is unchanged


def test_a_folder_export_lists_its_rules() -> None:
    rule = version(1, RuleStatus.PUBLISHED, {"name": "n", "type": "decision-table"})
    folder = folder_export("space", [rule])
    assert folder["export"]["exportType"] == "FOLDER"
    assert folder["export"]["data"]["structure"]["children"] == [
        {"baseId": "id", "type": "RULE", "version": 1}
    ]
    assert folder["export"]["data"]["rules"][0]["ruleId"] == "id"
