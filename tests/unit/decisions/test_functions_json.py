"""Every example of the functions-and-JSON page: expressions mixed with JSON.

Source: rules_data-types-and-functions_operators_functions_functions-and-json.md.
The page shows expressions without results; the results here are what its
text says they mean. Its SOLVE examples call a real "Delivery Price" table,
compiled here, through the SolveContext callback the Solver API uses.
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testkit import check

from flowjobs.decisions import CompiledRule, SolveContext, compile_rule
from flowjobs.decisions.evaluator import Evaluator, evaluate_text
from flowjobs.decisions.parser import parse_tree
from flowjobs.decisions.scope import Scope

PAGE: list[tuple[str, dict[str, Any] | None, Any]] = [
    ('{"animal":{data}}', {"data": "dog"}, {"animal": "dog"}),
    ('{{data}:["dog","cat","bird"]}', {"data": "pets"}, {"pets": ["dog", "cat", "bird"]}),
    ('["dog",{data},"bird"]', {"data": "cat"}, ["dog", "cat", "bird"]),
    (
        'ARRAY_MAP({data}, "letter", {"letter": {letter}})',
        {"data": ["a", "b"]},
        [{"letter": "a"}, {"letter": "b"}],
    ),
    ('{"average": AVG(10,30)}', None, {"average": 20}),
    ('{1+2:"three"}', None, {"3": "three"}),
    (
        '{"animals": {data}, "number": COUNT({data})}',
        {"data": ["dog", "cat", "bird"]},
        {"animals": ["dog", "cat", "bird"], "number": 3},
    ),
]


@pytest.mark.parametrize(("expression", "data", "expected"), PAGE, ids=[c[0] for c in PAGE])
def test_page_example(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


RULES: list[tuple[str, dict[str, Any] | None, Any]] = [
    # keys that are not text become text, as the page warns
    ("{{data}:1}", {"data": 5}, {"5": 1}),
    ("{{data}:1}", {"data": True}, {"true": 1}),
    # nesting and functions anywhere inside
    ('{"a": [{"b": {x}}, SUM(1,{x})]}', {"x": 2}, {"a": [{"b": 2}, 3]}),
    ('PICK({"order": {"code": {c}}}, "order.code")', {"c": "A7"}, "A7"),
    ('ARRAY_PICK([{"k": 1}, {"k": {x}}], "k")', {"x": 9}, [1, 9]),
    ("{}", None, {}),
]


@pytest.mark.parametrize(("expression", "data", "expected"), RULES, ids=[c[0] for c in RULES])
def test_json_rule(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


def test_exported_trees_mix_json_and_functions_too() -> None:
    # As Solve_Example_v1.json exports SOLVE("...",{"group":{data}}): a variable inside
    # JSON is wrapped in EVAL.
    tree = {"group": {"functionName": "EVAL", "parameters": ["{data}"]}, "n": 1}
    value = Evaluator().evaluate(parse_tree(tree), Scope({"data": "plant"}))
    assert value == {"group": "plant", "n": 1}


# --- the page's example: a table calls the Delivery Price rule with JSON it builds ------------


def _delivery_price_table() -> dict[str, Any]:
    def row(operator: str, weight: str, price: int, hours: str) -> dict[str, Any]:
        outputs = {"price": price, "currency": "USD", "deliveryInHours": hours}
        return {
            "active": True,
            "cells": [
                {
                    "column": "weight",
                    "type": "input",
                    "scalarCondition": {"operator": operator, "value": weight, "type": "general"},
                },
                *(
                    {
                        "column": name,
                        "type": "output",
                        "outputScalarValue": {"type": "common", "value": str(value)},
                    }
                    for name, value in outputs.items()
                ),
            ],
        }

    def output_column(name: str) -> dict[str, Any]:
        return {
            "columnId": name,
            "type": "output",
            "columnOutput": {"type": "simple", "outputVariable": name, "name": name},
        }

    return {
        "name": "Delivery Price",
        "ruleAlias": "delivery-price",
        "type": "decision-table",
        "inputSchema": {"package": {"weight": {}}},
        "outputSchema": {"price": {}, "currency": {}, "deliveryInHours": {}},
        "decisionTable": {
            "columns": [
                {
                    "columnId": "weight",
                    "type": "input",
                    "condition": {
                        "type": "simple",
                        "inputVariable": "package.weight",
                        "name": "Weight",
                    },
                },
                output_column("price"),
                output_column("currency"),
                output_column("deliveryInHours"),
            ],
            "rows": [row("<=", "10", 15, "48 Hours"), row(">", "10", 28, "24 Hours")],
        },
    }


class DeliveryRules:
    """The space of rules SOLVE reaches: the Delivery Price table, by alias."""

    def __init__(self) -> None:
        self.rules: dict[str, CompiledRule] = {
            "delivery-price": compile_rule(_delivery_price_table())
        }
        self.inputs: list[Any] = []

    def solve(self, rule: str, version: int | None, data: Any, strategy: str) -> Any:
        self.inputs.append(data)
        return self.rules[rule].solve(data, strategy=strategy)


HEAVY = [{"price": 28, "currency": "USD", "deliveryInHours": "24 Hours"}]
LIGHT = [{"price": 15, "currency": "USD", "deliveryInHours": "48 Hours"}]


@pytest.mark.parametrize(
    ("expression", "data", "sent", "expected"),
    [
        (
            'SOLVE("delivery-price", {"package": {"weight": 12}})',
            {},
            {"package": {"weight": 12}},
            HEAVY,
        ),
        (
            'SOLVE("delivery-price", {"package": {"weight": {packageWeight}}})',
            {"packageWeight": 12},
            {"package": {"weight": 12}},
            HEAVY,
        ),
        (
            'SOLVE("delivery-price", {"package": {"weight": MIN(10,{packageWeight})}})',
            {"packageWeight": 12},
            {"package": {"weight": 10}},
            LIGHT,
        ),
    ],
)
def test_solve_with_json_built_from_the_input(
    expression: str, data: dict[str, Any], sent: Any, expected: Any
) -> None:
    space = DeliveryRules()
    result = evaluate_text(expression, data, context=SolveContext(space.solve))
    assert space.inputs == [sent]
    assert result == expected
