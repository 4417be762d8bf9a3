"""The SDK rule JSON mapping, inputSchema checks and the Rule answer (pure, no I/O)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import pytest

from flowjobs.domain import RuleStatus, RuleVersion
from flowjobs.errors import InvalidInputError
from flowjobs.inputschema import MAX_PROBLEMS, InputSchemas, schema_problems
from flowjobs.rulejson import apply_rule_json, json_problems, metadata_problems
from flowjobs.schemas import Rule, RuleSummary

NODES = [{"id": "done", "type": "end", "output": "input"}]
BASE = {
    "name": "Echo",
    "alias": "echo",
    "settings": {"timeoutSeconds": 5},
    "handler": "pkg.mod:fn",
    "tags": ["keep"],
    "custom": "kept as pushed",
}


def version(document: dict[str, Any], updated: datetime | None = None) -> RuleVersion:
    return RuleVersion(
        base_id="b1",
        space_id="s1",
        alias="echo",
        name="Echo (row)",
        description=None,
        type="integration-flow",
        version=2,
        status=RuleStatus.PUBLISHED,
        document=document,
        created_at=datetime(2026, 11, 28, 21, 23, 0, 345628, tzinfo=UTC),
        updated_at=updated or datetime(2026, 11, 28, 21, 24, 1, 5000, tzinfo=UTC),
    )


def test_null_fields_are_absent_and_unknown_fields_ignored() -> None:
    body = {
        "name": None,
        "settings": None,
        "tags": ["new"],
        "ruleId": "x",
        "version": 9,
        "auditLog": {"active": False},
        "workflowData": {"nodes": []},
    }

    change = apply_rule_json(body, BASE)

    assert change.document == BASE | {"tags": ["new"]}
    assert change.status is None and change.problems == []


def test_nodes_replace_a_handler_and_only_a_create_sets_the_alias() -> None:
    body = {"nodes": NODES, "ruleAlias": "other", "name": "Renamed", "status": "published"}

    update = apply_rule_json(body, BASE)
    new_version = apply_rule_json(body, BASE, rename=False)
    create = apply_rule_json({"name": "X", "alias": "x-flow", "nodes": NODES}, set_alias=True)

    assert update.document["nodes"] == NODES and "handler" not in update.document
    assert (update.document["alias"], update.document["name"]) == ("echo", "Renamed")
    assert update.status is RuleStatus.PUBLISHED
    assert new_version.document["name"] == "Echo"
    assert create.document == {"name": "X", "alias": "x-flow", "nodes": NODES}
    assert apply_rule_json(body, BASE) == update  # the base is not changed


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"type": "lookup-table"}, "type: must be one of integration-flow, decision-table"),
        ({"status": "live"}, "status: must be 'pending' or 'published'"),
        ([1], "the rule must be a JSON object"),
    ],
)
def test_body_problems(body: Any, problem: str) -> None:
    assert apply_rule_json(body, BASE).problems[0].startswith(problem)


def test_metadata_problems_of_a_document() -> None:
    assert metadata_problems(BASE) == []
    assert metadata_problems({"tags": [1], "outputSchema": "x", "inputSchema": []}) == [
        "tags: must be a list of strings",
        "inputSchema: must be a JSON Schema (an object or a boolean)",
        "outputSchema: must be a JSON Schema (an object or a boolean)",
    ]


def test_values_json_cannot_hold_are_problems() -> None:
    document = {
        "name": "x",
        "settings": {"since": date(2024, 1, 1), "ratio": math.inf},
        "nodes": [{"data": b"raw"}, {"ok": [1, 2.5, True, None, "s"]}],
    }

    assert json_problems(document) == [
        "settings.since: a date is not a JSON value (quote it in YAML: '2024-01-01')",
        "settings.ratio: inf is not a JSON number",
        "nodes[0].data: a bytes is not a JSON value (quote it in YAML: 'b'raw'')",
    ]
    assert json_problems({"a": [date(2024, 1, d) for d in range(1, 30)]}, limit=3) == [
        f"a[{i}]: a date is not a JSON value (quote it in YAML: '2024-01-0{i + 1}')"
        for i in range(3)
    ]


@pytest.mark.parametrize(
    "schema",
    [{"Input attribute": {}}, {"type": "object"}, True, {"$defs": {"a": {}}, "$ref": "#/$defs/a"}],
)
def test_valid_schemas_include_decisionrules_attribute_maps(schema: Any) -> None:
    assert schema_problems(schema) == []


def test_schema_problems_list_each_with_its_path() -> None:
    problems = schema_problems(
        {"type": 5, "properties": {"a": {"pattern": "("}}, "$schema": [1]}
    ) + schema_problems({"type": 5, "properties": {"a": {"pattern": "("}}})

    assert problems[0] == "inputSchema.$schema: must be a string"
    assert problems[1].startswith("inputSchema.properties.a.pattern: '(' is not a 'regex'")
    assert problems[2].startswith("inputSchema.type: 5 is not valid")


def test_input_problems_are_listed_with_paths_and_capped() -> None:
    schemas = InputSchemas()
    rule = version({"inputSchema": {"type": "array", "items": {"type": "integer"}}})

    with pytest.raises(InvalidInputError) as caught:
        schemas.check(rule, ["x"] * (MAX_PROBLEMS + 5))

    problems = caught.value.problems
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[0] == "input[0]: 'x' is not of type 'integer'"
    assert problems[-1] == f"... and more problems after the first {MAX_PROBLEMS}"
    assert caught.value.message.endswith(f"; ... ({MAX_PROBLEMS + 1} lines in problems)")
    schemas.check(rule, [1, 2])  # matches: no error


def test_validators_are_cached_per_version_until_it_changes() -> None:
    schemas = InputSchemas(max_entries=2)
    first = version({"inputSchema": {"type": "object"}})
    changed = version({"inputSchema": {"type": "array"}}, datetime(2027, 1, 1, tzinfo=UTC))

    assert schemas.validator(first) is schemas.validator(first)
    schemas.check(first, {})
    with pytest.raises(InvalidInputError):
        schemas.check(changed, {})  # a newer updated_at: compiled again
    assert schemas.validator(version({})) is None  # no inputSchema: no check
    assert schemas.validator(version({"inputSchema": 5})) is None  # invalid when stored: ignored


def test_an_unresolvable_ref_is_a_problem_never_a_fetch() -> None:
    rule = version({"inputSchema": {"$ref": "http://127.0.0.1:9/schema.json"}})

    with pytest.raises(InvalidInputError, match="cannot resolve the reference"):
        InputSchemas().check(rule, {})


def test_rule_answer_fields() -> None:
    rule = version(BASE | {"inputSchema": {"a": {}}, "tags": ["ok", 3], "description": 7})

    answer = Rule.from_version(rule).model_dump(mode="json", exclude_none=True)

    assert answer == {
        "ruleId": "b1",
        "baseId": "b1",
        "ruleAlias": "echo",
        "name": "Echo",
        "description": "",
        "type": "integration-flow",
        "status": "published",
        "version": 2,
        "tags": ["ok"],
        "createdIn": "2026-11-28T21:23:00.345Z",
        "lastUpdate": "2026-11-28T21:24:01.005Z",
        "inputSchema": {"a": {}},
        "settings": {"timeoutSeconds": 5},
        "handler": "pkg.mod:fn",
    }
    summary = RuleSummary.from_version(rule).model_dump(mode="json")
    assert set(summary) == set(answer) - {"inputSchema", "settings", "handler"}
