"""compile_flow: shapes, node checks and collecting every problem."""

from __future__ import annotations

from typing import Any

import pytest

from flowjobs.engine import EngineLimits, compile_flow
from flowjobs.errors import FlowValidationError


def problems_of(document: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(document, **kwargs)
    assert info.value.problems, "a FlowValidationError must list its problems"
    return info.value.problems


def test_collects_all_problems_at_once() -> None:
    problems = problems_of(
        {
            "name": "broken",
            "nodes": [
                {"id": "x", "type": "frobnicate"},
                {"id": "x", "type": "assign", "set": {"a": '"unterminated'}},
                {"id": "ok", "type": "end", "output": "1 +"},
                {"id": "vars", "type": "end"},
            ],
        }
    )
    assert 'nodes[0] (id "x"): unknown node type "frobnicate"' in problems[0]
    assert any('nodes[1] (id "x"): duplicate node id "x"' in p for p in problems)
    assert any(p.startswith('nodes[1] (id "x"): set.a: invalid JSONata') for p in problems)
    assert any(p.startswith('nodes[2] (id "ok"): output: invalid JSONata') for p in problems)
    assert 'nodes[3] (id "vars"): node id "vars" is reserved' in problems
    assert len(problems) == 5


@pytest.mark.parametrize("bad_id", ["1abc", "has-dash", "", 7, "white space"])
def test_bad_node_ids(bad_id: Any) -> None:
    problems = problems_of({"name": "f", "nodes": [{"id": bad_id, "type": "end"}]})
    assert len(problems) == 1
    assert "invalid node id" in problems[0]


@pytest.mark.parametrize("reserved", ["input", "vars", "job"])
def test_reserved_node_ids(reserved: str) -> None:
    problems = problems_of({"name": "f", "nodes": [{"id": reserved, "type": "end"}]})
    assert problems == [f'nodes[0] (id "{reserved}"): node id "{reserved}" is reserved']


def test_missing_fields_and_unknown_fields() -> None:
    problems = problems_of(
        {
            "nodes": [
                {"type": "end"},
                {"id": "w", "type": "wait"},
                {"id": "a", "type": "assign", "set": {"x": "1"}, "sett": {}},
                {"id": "t"},
                "not a node",
            ]
        }
    )
    assert problems == [
        "name: required field is missing",
        "nodes[0]: id: required field is missing",
        'nodes[1] (id "w"): seconds: required field is missing',
        'nodes[2] (id "a"): sett: unknown field',
        'nodes[3] (id "t"): type: required field is missing',
        "nodes[4]: a node must be a mapping",
    ]


def test_node_field_checks() -> None:
    problems = problems_of(
        {
            "name": "f",
            "nodes": [
                {"id": "w1", "type": "wait", "seconds": -2},
                {"id": "w2", "type": "wait", "seconds": True},
                {"id": "a", "type": "assign", "set": {"not-ident": "1", "n": 5}},
                {"id": "e", "type": "assign", "set": {}},
                {"id": "f1", "type": "fail"},
                {"id": "f2", "type": "fail", "message": "1", "messageText": "x"},
                {"id": "z", "type": "end", "output": "   "},
            ],
        }
    )
    assert any(p.startswith('nodes[0] (id "w1"): seconds must not be negative') for p in problems)
    assert any(
        p.startswith('nodes[1] (id "w2"): seconds must be a finite number') for p in problems
    )
    assert any("'not-ident' is not an identifier" in p for p in problems)
    assert 'nodes[2] (id "a"): set.n: must be a JSONata expression string' in problems
    assert any(p.startswith('nodes[3] (id "e"): set:') for p in problems)
    assert sum("exactly one of message" in p for p in problems) == 2
    assert any(p.startswith('nodes[6] (id "z"): output: invalid JSONata') for p in problems)


def test_document_level_problems() -> None:
    assert problems_of({"name": "f"}) == ["a flow needs either nodes or a handler"]
    both = problems_of(
        {"name": "f", "nodes": [{"id": "a", "type": "end"}], "handler": "x:y"},
        handler_prefixes=["x"],
    )
    assert "a flow has either nodes or a handler, not both" in both
    assert problems_of({"name": "f", "nodes": []}) == ["nodes: must contain at least one node"]
    assert problems_of({"name": "f", "nodes": "abc"}) == ["nodes: Input should be a valid list"]


@pytest.mark.parametrize("settings", [{"timeoutSeconds": 0}, {"timeoutSeconds": "10"}])
def test_bad_settings(settings: dict[str, Any]) -> None:
    problems = problems_of(
        {"name": "f", "settings": settings, "nodes": [{"id": "a", "type": "end"}]}
    )
    assert problems == [
        f"settings.timeoutSeconds: must be a positive number, got {settings['timeoutSeconds']!r}"
    ]


def test_settings_must_be_a_mapping() -> None:
    problems = problems_of({"name": "f", "settings": [1], "nodes": [{"id": "a", "type": "end"}]})
    assert problems == ["settings: Input should be a valid dictionary"]


def test_not_a_mapping() -> None:
    assert problems_of(["nodes"]) == ["the flow document must be a mapping"]


def test_defaults_and_other_types_are_reported_not_refused() -> None:
    document = {"name": "f", "nodes": [{"id": "a", "type": "end"}], "tags": ["kept"]}
    flow = compile_flow(document)
    assert flow.type == "integration-flow"
    assert (flow.alias, flow.description, flow.timeout_seconds, flow.settings) == (
        None,
        None,
        None,
        {},
    )
    other = compile_flow({**document, "type": "decision-table"})
    assert other.type == "decision-table"


def test_document_is_kept_unchanged() -> None:
    document: dict[str, Any] = {
        "name": "f",
        "settings": {"timeoutSeconds": 5, "custom": 1},
        "nodes": [{"id": "a", "type": "end"}],
    }
    flow = compile_flow(document, limits=EngineLimits(expression_timeout_ms=10))
    assert flow.document == document
    assert flow.settings == {"timeoutSeconds": 5, "custom": 1}
    assert flow.timeout_seconds == 5.0
    document["nodes"].append({"id": "b", "type": "end"})
    assert len(flow.document["nodes"]) == 1
    assert flow.limits.expression_timeout_ms == 10
