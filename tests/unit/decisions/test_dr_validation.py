"""validate_rule lists every problem at once, each with its row and column."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from dr_testkit import one_condition_table

from flowjobs.decisions import RuleInvalid, RuleProblem, compile_rule, validate_rule
from flowjobs.errors import InvalidRuleError


def messages(document: Any) -> list[str]:
    return [str(p) for p in validate_rule(document)]


def test_rule_problem_reads_as_row_and_column() -> None:
    problem = RuleProblem("unknown operator 'XX'", 3, "Promo code")
    assert str(problem) == "row 3, column 'Promo code': unknown operator 'XX'"
    assert str(RuleProblem("no rows")) == "no rows"


def test_every_problem_is_listed_at_once() -> None:
    document = one_condition_table("XX", "1")
    document["inputSchema"] = {"x": {}}
    rows = document["decisionTable"]["rows"]
    second = copy.deepcopy(rows[0])
    second["cells"][0]["scalarCondition"]["operator"] = "="
    second["cells"][1]["outputScalarValue"] = {"type": "function", "value": "SUM()"}
    second["cells"].append(
        {"type": "output", "column": "ghost", "outputScalarValue": {"value": "1"}}
    )
    third = copy.deepcopy(second)
    third["cells"][1]["outputScalarValue"] = {"type": "function", "value": "NOSUCH({x})"}
    third["cells"].pop()
    fourth = copy.deepcopy(third)
    fourth["cells"][0]["scalarCondition"]["value"] = "{unknownVar}"
    fourth["cells"][1]["outputScalarValue"] = {"type": "common", "value": "{x}"}
    rows.extend([second, third, fourth])
    assert messages(document) == [
        "row 2, column 'ghost': the cell's column does not exist",
        "row 1, column 'Cond': unknown operator 'XX'",
        "row 2, column 'Hit': function SUM takes at least 1 arguments, got 0",
        "row 3, column 'Hit': unknown function NOSUCH",
        "row 4, column 'Cond': variable {unknownVar} is not in the input schema, "
        "the rule variables or the columns",
    ]


def test_compile_raises_a_4xx_error_carrying_the_problems() -> None:
    with pytest.raises(RuleInvalid) as caught:
        compile_rule(one_condition_table("XX", "1"))
    error = caught.value
    assert isinstance(error, InvalidRuleError)
    assert 400 <= error.status < 500
    assert error.rule_problems == [RuleProblem("unknown operator 'XX'", 1, "Cond")]
    assert error.problems == ["row 1, column 'Cond': unknown operator 'XX'"]


def test_a_condition_column_on_a_variable_the_schema_lacks() -> None:
    document = one_condition_table("=", "1")
    document["inputSchema"] = {"y": {}}
    assert messages(document) == [
        "column 'Cond': variable {x} is not in the input schema, the rule variables or the columns"
    ]


def test_json_schema_input_models_are_understood() -> None:
    document = one_condition_table("=", "{limits.max}")
    document["inputSchema"] = {
        "type": "object",
        "properties": {
            "x": {"type": "number"},
            "limits": {
                "type": "object",
                "properties": {"max": {}},
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }
    assert messages(document) == []
    document["decisionTable"]["rows"][0]["cells"][0]["scalarCondition"]["value"] = "{limits.min}"
    assert len(messages(document)) == 1


def test_names_bound_by_custom_functions_are_not_input_variables() -> None:
    document = one_condition_table("=", "1")
    document["inputSchema"] = {"x": {}}
    document["decisionTable"]["rows"][0]["cells"][1]["outputScalarValue"] = {
        "type": "function",
        "value": 'IF({x}, "a", "b")',
    }
    assert messages(document) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], ["the rule must be a JSON object"]),
        ({}, ["decisionTable must be an object"]),
        (
            {"decisionTable": {"columns": [], "rows": []}},
            ["decisionTable.columns must be a non-empty array"],
        ),
        (
            {"type": "decision-tree", "decisionTable": {"columns": [{"type": "wat"}], "rows": {}}},
            [
                "type must be 'decision-table', not 'decision-tree'",
                "column 1 has unknown type 'wat'",
                "decisionTable.rows must be an array",
            ],
        ),
    ],
)
def test_malformed_documents(document: Any, expected: list[str]) -> None:
    assert messages(document) == expected


def test_a_between_cell_needs_two_values() -> None:
    assert messages(one_condition_table("BTW", "5")) == [
        "row 1, column 'Cond': operator BTW needs two values, e.g. 3 AND 5"
    ]


def test_inactive_rows_are_validated_but_not_solved() -> None:
    document = one_condition_table("anything", "")
    document["decisionTable"]["rows"][0]["active"] = False
    assert messages(document) == []
    assert compile_rule(document).solve({"x": 1}) == []
    document["decisionTable"]["rows"][0]["cells"][0]["scalarCondition"]["operator"] = "??"
    assert messages(document) == ["row 1, column 'Cond': unknown operator '??'"]


def test_a_function_condition_that_is_no_expression_is_a_problem() -> None:
    document = one_condition_table("function", "LT({x}, 3")
    document["decisionTable"]["rows"][0]["cells"][0]["scalarCondition"]["type"] = "function"
    assert len(messages(document)) == 1
    assert messages(document)[0].startswith("row 1, column 'Cond': expected ')'")


@pytest.mark.parametrize("value", ["SUM(1,", "ABS(" * 60 + "1" + ")" * 60])
def test_a_broken_or_too_deep_result_function_is_a_problem_not_text(value: str) -> None:
    document = one_condition_table("anything", "")
    document["decisionTable"]["rows"][0]["cells"][1]["outputScalarValue"] = {
        "type": "function",
        "value": value,
    }
    assert len(messages(document)) == 1
    assert messages(document)[0].startswith("row 1, column 'Hit': ")
