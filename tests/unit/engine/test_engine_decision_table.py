"""The decisionTable node and its cell conditions."""

from __future__ import annotations

from typing import Any

import pytest
from engine_testkit import flow_of

from flowjobs.engine import compile_flow, run_flow
from flowjobs.engine.conditions import ConditionError, to_scalar_condition
from flowjobs.errors import FlowValidationError


@pytest.mark.parametrize(
    ("condition", "operator", "value"),
    [
        ("-", "ANYTHING", ""),
        (None, "ANYTHING", ""),
        (5, "=", 5),
        (True, "=", True),
        (">= 18", ">=", "18"),
        (">=18", ">=", "18"),
        ("<> x", "<>", "x"),
        ('= "a b"', "=", '"a b"'),
        ("in [1, 2]", "IN", "[1, 2]"),
        ("NOT IN a, b", "NOT IN", "a, b"),
        ("between 600, 800", "BTW", "600, 800"),
        ("between 600 and 800", "BTW", "600 and 800"),
        ("BTW LO 1, 5", "BTW LO", "1, 5"),
        ("!null", "!NULL", ""),
        ("C TXT abc", "C TXT", "abc"),
        ("[1..5]", "BTW", ["1", "5"]),
        ("(1..5]", "BTW LO", ["1", "5"]),
        ('["a".."c")', "BTW RO", ["a", "c"]),
    ],
)
def test_conditions_are_decision_table_cells(condition: Any, operator: str, value: Any) -> None:
    assert to_scalar_condition(condition) == {
        "type": "general",
        "operator": operator,
        "value": value,
    }


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("around 600", "no operator in 'around 600'"),
        ("gold", "no operator in 'gold'"),
        ("", "an empty condition"),
        ("(1..5)", "open at both ends"),
        ("NULL 5", "NULL takes no operand"),
        ([1, 2], "not a list"),
        ({"a": 1}, "not a dict"),
    ],
)
def test_bad_conditions(condition: Any, message: str) -> None:
    with pytest.raises(ConditionError) as info:
        to_scalar_condition(condition)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("condition", "matching", "not_matching"),
    [
        ("-", [None, 0, "x"], []),
        (5, [5, 5.0, "5"], [4, None]),
        ("= gold", ["gold"], ["silver", None]),
        (">= 18", [18, 18.0, 99, "18"], [17, None]),
        ("BTW 600, 800", [600, 700, 800], [599, 801]),
        ("between 600 and 800", [600, 700, "800"], [599, 801]),
        ("[1..5)", [1, 4.9], [5, 0]),
        ("IN a, b", ["a", "b"], ["c"]),
        ('NOT IN ["a"]', ["b"], ["a"]),
        ("NULL", [None], [0, "x"]),
    ],
)
async def test_conditions_match_with_decisionrules_operators(
    make_ctx: Any, condition: Any, matching: list[Any], not_matching: list[Any]
) -> None:
    rules = [{"when": {"age": condition}, "then": {"hit": True}}]
    for value in matching:
        assert await run_table(make_ctx, {"age": value}, rules=rules) == {"hit": True}, value
    for value in not_matching:
        assert await run_table(make_ctx, {"age": value}, rules=rules) is None, value


def table(**fields: Any) -> dict[str, Any]:
    return {
        "id": "price",
        "type": "decisionTable",
        "inputs": {"age": "input.age", "tier": "input.tier"},
        "rules": [
            {"when": {"age": "< 18"}, "then": {"discount": 50, "label": "junior"}},
            {"when": {"age": "[18..65)", "tier": "= gold"}, "then": {"discount": 20}},
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
                        {"when": {"age": "about 1"}, "then": {}},
                        {"when": {"height": "= 1"}, "then": {}},
                        {"when": {}, "then": 5},
                    ],
                    hitPolicy="any",
                    inputs={"age": "input.age", "tier": "1 +"},
                )
            )
        )
    problems = info.value.problems
    assert any(p.startswith('nodes[0] (id "price"): rules.2.then:') for p in problems)
    assert any(p.startswith('nodes[0] (id "price"): hitPolicy:') for p in problems)


def test_compile_problems_name_the_rule_and_input() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            flow_of(
                table(
                    rules=[
                        {"when": {"age": "about 1"}, "then": {}},
                        {"when": {"tier": "gold"}, "then": {}},
                        {"when": {"height": "= 1"}, "then": {}},
                        {"when": {"age": "= {nope}"}, "then": {}},
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
    assert not any(p.startswith(prefix + "rules[3]") for p in problems)  # judged once valid
    assert any(p.startswith(prefix + "inputs.tier: invalid JSONata") for p in problems)
    assert prefix + "inputs: input name 'bad-name' is not an identifier" in problems
