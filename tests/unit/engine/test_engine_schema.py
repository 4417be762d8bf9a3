"""The generated JSON Schema of flow documents (flowjobs.engine.schema)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowjobs.catalog import _ALIAS
from flowjobs.engine import compile_flow
from flowjobs.engine.nodes import NODE_TYPES
from flowjobs.engine.schema import ALIAS_PATTERN, flow_json_schema, flow_json_schema_text

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = ROOT / "docs" / "flow-schema.json"
DOCUMENTS = sorted(
    [*ROOT.glob("examples/*.yaml"), *ROOT.glob("tests/support/flows/*.yaml")],
    key=lambda path: str(path),
)


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = flow_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: Any, document: Any) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


def test_committed_schema_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == flow_json_schema_text(), (
        "docs/flow-schema.json is out of date; regenerate it with "
        "`.venv/bin/flowjobs flow-schema > docs/flow-schema.json`"
    )
    assert json.loads(COMMITTED.read_text(encoding="utf-8")) == flow_json_schema()


def test_every_node_type_is_a_branch() -> None:
    schema = flow_json_schema()
    branches = {branch["$ref"].rsplit("/", 1)[1] for branch in schema["$defs"]["node"]["oneOf"]}
    assert branches == {cls.__name__ for cls in NODE_TYPES.values()}
    for node_type, cls in NODE_TYPES.items():
        properties = schema["$defs"][cls.__name__]["properties"]
        assert properties["type"] == {"const": node_type}
        assert {"onError", "timeout"} <= properties.keys()


def test_alias_pattern_matches_the_catalog() -> None:
    assert _ALIAS.pattern == ALIAS_PATTERN


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_example_documents_validate(validator: Any, path: Path) -> None:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert errors(validator, document) == []


def _flow(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "t", "nodes": list(nodes)}


def test_unknown_node_type_fails(validator: Any) -> None:
    document = _flow({"id": "a", "type": "email", "to": "ops@example.com"})
    assert errors(validator, document)


def test_nested_node_lists_are_checked(validator: Any) -> None:
    good = _flow(
        {
            "id": "loop",
            "type": "foreach",
            "items": "input.items",
            "nodes": [
                {
                    "id": "pick",
                    "type": "switch",
                    "cases": [{"when": "loop.index = 0", "nodes": [{"id": "a", "type": "end"}]}],
                    "default": [{"id": "b", "type": "log", "message": '"x"'}],
                }
            ],
        }
    )
    assert errors(validator, good) == []
    compile_flow(good)
    bad = copy.deepcopy(good)
    bad["nodes"][0]["nodes"][0]["default"][0]["type"] = "frobnicate"
    assert errors(validator, bad)
    empty = copy.deepcopy(good)
    empty["nodes"][0]["nodes"][0]["cases"][0]["nodes"] = []
    assert errors(validator, empty)


@pytest.mark.parametrize(
    "document",
    [
        {"nodes": [{"id": "a", "type": "end"}]},  # no name
        {"name": "t"},  # neither nodes nor handler
        {"name": "t", "handler": "m:f", "nodes": [{"id": "a", "type": "end"}]},  # both
        {"name": "t", "handler": "not a reference"},
        {"name": "t", "alias": "has space", "handler": "m:f"},
        {"name": "t", "settings": {"timeoutSeconds": 0}, "handler": "m:f"},
        _flow({"id": "vars", "type": "end"}),  # reserved id
        _flow({"id": "1a", "type": "end"}),
        _flow({"id": "a", "type": "end", "output": 42}),  # not an expression string
        _flow({"id": "a", "type": "assign", "set": {"2nd": "1"}}),
        _flow({"id": "a", "type": "wait", "seconds": -1}),
        _flow({"id": "a", "type": "wait", "seconds": 1, "unit": "minutes"}),
        _flow({"id": "a", "type": "end", "timeout": 0}),
        _flow({"id": "a", "type": "rest", "url": "http://x", "expectStatus": "2yy"}),
        _flow({"id": "a", "type": "sql", "connection": "c", "query": "x", "mode": "many"}),
        _flow({"id": "a", "type": "end", "onError": {"goto": "b", "as": "not-an-id"}}),
    ],
)
def test_invalid_documents_fail(validator: Any, document: dict[str, Any]) -> None:
    assert errors(validator, document)


def test_other_rule_types_need_only_a_name(validator: Any) -> None:
    assert errors(validator, {"name": "table", "type": "decision-table"}) == []
