"""The decisionTable node and its cell conditions."""

from __future__ import annotations

from typing import Any

import pytest
from engine_testkit import flow_of

from flowjobs.engine import compile_flow, run_flow
from flowjobs.engine.conditions import ConditionError, parse_condition
from flowjobs.errors import FlowValidationError


@pytest.mark.parametrize(
    ("condition", "matching", "not_matching"),
    [
        ("-", [None, 0, "x", [1], {"a": 1}], []),
        (None, [None, 5, "y"], []),
        (5, [5, 5.0], [4, "5", True, None]),
        (True, [True], [1, "true", False]),
        (False, [False], [0, None]),
        ("gold", ["gold"], ["Gold", "silver", None]),
        ("[draft]", ["[draft]"], ["draft"]),
        ("in progress", ["in progress"], ["in"]),
        (">= 18", [18, 18.0, 99], [17, "18", None, True]),
        ("> 5", [5.5, 6], [5, 4]),
        ("<= 3", [3, -1], [3.5]),
        ("< 2", [1.99], [2, "1"]),
        ('> "m"', ["n", "z"], ["a", "m", 5]),
        ("= 7", [7, 7.0], [8, "7"]),
        ('= "a b"', ["a b"], ["a", None]),
        ("= 'single'", ["single"], ["'single'"]),
        ("= true", [True], [1]),
        ("= null", [None], [0, ""]),
        ('= "-"', ["-"], ["x"]),
        ('= ">= 1"', [">= 1"], [5]),
        ("!= 3", [4, "3", None], [3, 3.0]),
        ('!= "x"', ["y", None], ["x"]),
        ("[1..5]", [1, 3, 5], [0.5, 5.5, "3", None]),
        ("(1..5)", [1.5, 4.9], [1, 5]),
        ("[1..5)", [1, 4.9], [5]),
        ("(1..5]", [5, 1.1], [1]),
        ("[ -2.5 .. 2.5 ]", [-2.5, 0, 2.5], [3]),
        ('["a".."c"]', ["a", "b", "c"], ["d", 1]),
        ('in [1, 2, "a"]', [1, 2.0, "a"], [3, "1", True, None]),
        ("in [true, null]", [True, None], [1, 0, False]),
        ('not in [1, "a"]', [2, "b", None], [1, "a"]),
        ("not  in[1]", [2], [1]),
    ],
)
def test_condition_forms(condition: Any, matching: list[Any], not_matching: list[Any]) -> None:
    parsed = parse_condition(condition)
    for value in matching:
        assert parsed.matches(value), (condition, value)
    for value in not_matching:
        assert not parsed.matches(value), (condition, value)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (">= eighteen", "not a number or a quoted string"),
        ("> true", "only numbers and strings can be ordered"),
        ("< [1]", "not a number or a quoted string"),
        ("= {", "not a number or a quoted string"),
        ("[5..1]", "starts above its end"),
        ('[1.."z"]', "both ends of a range"),
        ("[x..5]", "not a number or a quoted string"),
        ("in [1, 2", "not a JSON array"),
        ('in ["a"', "not a JSON array"),
        ("[1..5", "a range is written"),
        ([1, 2], "not list"),
        ({"a": 1}, "not dict"),
    ],
)
def test_bad_conditions(condition: Any, message: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(condition)
    assert message in str(info.value)


def table(**fields: Any) -> dict[str, Any]:
    return {
        "id": "price",
        "type": "decisionTable",
        "inputs": {"age": "input.age", "tier": "input.tier"},
        "rules": [
            {"when": {"age": "< 18"}, "then": {"discount": 50, "label": "junior"}},
            {"when": {"age": "[18..65)", "tier": "gold"}, "then": {"discount": 20}},
            {"when": {"age": ">= 65", "tier": "-"}, "then": {"discount": 30, "tags": ["senior"]}},
            {"when": {"tier": 'in ["gold", "silver"]'}, "then": {"discount": 10}},
            {"when": {}, "then": {"discount": 0}},
        ],
        **fields,
    }


def run_table(make_ctx: Any, input_data: Any, **fields: Any) -> Any:
    flow = compile_flow(flow_of(table(**fields), {"id": "out", "type": "end", "output": "price"}))
    return run_flow(flow, make_ctx(input_data))


@pytest.mark.parametrize(
    ("input_data", "expected"),
    [
        ({"age": 10, "tier": "gold"}, {"discount": 50, "label": "junior"}),
        ({"age": 30, "tier": "gold"}, {"discount": 20}),
        ({"age": 70}, {"discount": 30, "tags": ["senior"]}),
        ({"age": 30, "tier": "silver"}, {"discount": 10}),
        ({"age": 30, "tier": "bronze"}, {"discount": 0}),
    ],
)
async def test_first_hit_policy(make_ctx: Any, input_data: Any, expected: Any) -> None:
    assert await run_table(make_ctx, input_data) == expected


async def test_collect_hit_policy(make_ctx: Any) -> None:
    output = await run_table(make_ctx, {"age": 30, "tier": "gold"}, hitPolicy="collect")
    assert output == [{"discount": 20}, {"discount": 10}, {"discount": 0}]


async def test_no_match(make_ctx: Any) -> None:
    rules = [{"when": {"age": "> 100"}, "then": {"x": 1}}]
    assert await run_table(make_ctx, {"age": 1}, rules=rules) is None
    assert await run_table(make_ctx, {"age": 1}, rules=rules, hitPolicy="collect") == []


async def test_then_values_are_literal(make_ctx: Any) -> None:
    rules = [{"when": {}, "then": {"expr": "input.age", "nested": {"a": [1, None]}}}]
    output = await run_table(make_ctx, {"age": 1}, rules=rules)
    assert output == {"expr": "input.age", "nested": {"a": [1, None]}}


def test_shape_problems() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            flow_of(
                table(
                    rules=[
                        {"when": {"age": ">= x"}, "then": {}},
                        {"when": {"tier": "in [1,"}, "then": {}},
                        {"when": {"height": "1"}, "then": {}},
                        {"when": {}, "then": 5},
                    ],
                    hitPolicy="any",
                    inputs={"age": "input.age", "tier": "1 +"},
                )
            )
        )
    problems = info.value.problems
    assert any(p.startswith('nodes[0] (id "price"): rules.3.then:') for p in problems)
    assert any(p.startswith('nodes[0] (id "price"): hitPolicy:') for p in problems)


def test_compile_problems_name_the_rule_and_input() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            flow_of(
                table(
                    rules=[
                        {"when": {"age": ">= x"}, "then": {}},
                        {"when": {"tier": "in [1,"}, "then": {}},
                        {"when": {"height": "1"}, "then": {}},
                    ],
                    inputs={"age": "input.age", "tier": "1 +", "bad-name": "1"},
                )
            )
        )
    problems = info.value.problems
    prefix = 'nodes[0] (id "price"): '
    assert any(p.startswith(prefix + "rules[0].when.age: invalid condition") for p in problems)
    assert any(p.startswith(prefix + "rules[1].when.tier: invalid condition") for p in problems)
    assert prefix + "rules[2].when.height: there is no input named 'height'" in problems
    assert any(p.startswith(prefix + "inputs.tier: invalid JSONata") for p in problems)
    assert prefix + "inputs: input name 'bad-name' is not an identifier" in problems
