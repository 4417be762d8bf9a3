"""Execution strategies, options, ELSE rows, inactive rows, calculation columns, and the
hash index agreeing with a row-by-row scan.

Sources: rules_common-rule-features_execution-strategy.md, api_rule-solver-api.md.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from flowjobs.decisions import (
    STRATEGIES,
    SolveError,
    SolveOptions,
    compile_rule,
    normalise_strategy,
)


def _cond(column: str, operator: str, value: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "column": column,
        "scalarCondition": {"type": "general", "operator": operator, "value": value},
    }


def _out(column: str, value: Any, kind: str = "common") -> dict[str, Any]:
    return {"type": "output", "column": column, "outputScalarValue": {"type": kind, "value": value}}


def segment_table() -> dict[str, Any]:
    """The strategy page's example: two rows can match one client."""
    return {
        "decisionTable": {
            "columns": [
                {
                    "type": "input",
                    "columnId": "age",
                    "alias": "col-age",
                    "condition": {"name": "Age", "inputVariable": "client.age"},
                },
                {
                    "type": "input",
                    "columnId": "amount",
                    "condition": {"name": "Portfolio", "inputVariable": "portfolioAmount"},
                },
                {
                    "type": "output",
                    "columnId": "segment",
                    "columnOutput": {"name": "Segment", "outputVariable": "client.segment"},
                },
                {
                    "type": "output",
                    "columnId": "profit",
                    "columnOutput": {"name": "Profit", "outputVariable": "profitability"},
                },
            ],
            "rows": [
                {
                    "active": True,
                    "cells": [
                        _cond("age", ">=", "18"),
                        _cond("amount", ">=", "10000"),
                        _out("segment", "affluent"),
                        _out("profit", "1"),
                    ],
                },
                {
                    "active": True,
                    "cells": [
                        _cond("age", ">=", "30"),
                        _cond("amount", ">=", "100000"),
                        _out("segment", "top affluent"),
                        _out("profit", "1.6"),
                    ],
                },
                {
                    "active": False,
                    "cells": [_cond("age", "anything", ""), _out("segment", "inactive")],
                },
            ],
        }
    }


RICH = {"client": {"age": 40}, "portfolioAmount": 200000}
AFFLUENT = {"client": {"segment": "affluent"}, "profitability": 1}
TOP = {"client": {"segment": "top affluent"}, "profitability": 1.6}


def test_standard_returns_every_matching_row_in_order() -> None:
    assert compile_rule(segment_table()).solve(RICH) == [AFFLUENT, TOP]


def test_first_match_returns_only_the_first() -> None:
    assert compile_rule(segment_table()).solve(RICH, strategy="FIRST_MATCH") == [AFFLUENT]


def test_array_merges_the_matches_into_arrays() -> None:
    assert compile_rule(segment_table()).solve(RICH, strategy="ARRAY") == [
        {"client": {"segment": ["affluent", "top affluent"]}, "profitability": [1, 1.6]}
    ]


def test_evaluate_all_gives_every_active_row_with_match() -> None:
    poorer = {"client": {"age": 40}, "portfolioAmount": 20000}
    assert compile_rule(segment_table()).solve(poorer, strategy="EVALUATE_ALL") == [
        {**AFFLUENT, "_match": True},
        {**TOP, "_match": False},
    ]


def test_no_match_is_an_empty_result_in_every_strategy() -> None:
    rule = compile_rule(segment_table())
    for strategy in ("STANDARD", "FIRST_MATCH", "ARRAY"):
        assert rule.solve({"client": {"age": 3}}, strategy=strategy) == []


@pytest.mark.parametrize(
    ("header", "strategy"),
    [
        (None, "STANDARD"),
        ("", "STANDARD"),
        ("nonsense", "STANDARD"),
        ("first_match", "FIRST_MATCH"),
        ("ARRAY", "ARRAY"),
        ("EVALUATE_ALL", "EVALUATE_ALL"),
    ],
)
def test_unknown_or_missing_strategy_is_standard(header: str | None, strategy: str) -> None:
    assert normalise_strategy(header) == strategy
    assert strategy in STRATEGIES


def test_included_condition_columns_ignore_the_others() -> None:
    rule = compile_rule(segment_table())
    young_and_rich = {"client": {"age": 5}, "portfolioAmount": 200000}
    assert rule.solve(young_and_rich) == []
    only_amount = SolveOptions.from_request({"includedConditionCols": ["portfolioAmount"]})
    assert rule.solve(young_and_rich, options=only_amount) == [AFFLUENT, TOP]


def test_excluded_condition_columns_are_ignored() -> None:
    rule = compile_rule(segment_table())
    young_and_rich = {"client": {"age": 5}, "portfolioAmount": 200000}
    by_variable = SolveOptions.from_request({"excludedConditionCols": ["client.age"]})
    by_alias = SolveOptions.from_request({"excludedConditionCols": ["col-age"]})
    assert rule.solve(young_and_rich, options=by_variable) == [AFFLUENT, TOP]
    assert rule.solve(young_and_rich, options=by_alias) == [AFFLUENT, TOP]


def test_included_columns_take_precedence_over_excluded() -> None:
    options = SolveOptions.from_request(
        {"includedConditionCols": ["client.age"], "excludedConditionCols": ["client.age"]}
    )
    rule = compile_rule(segment_table())
    assert rule.solve({"client": {"age": 40}, "portfolioAmount": 0}, options=options) == [
        AFFLUENT,
        TOP,
    ]


@pytest.mark.parametrize(
    "options",
    ["text", {"includedConditionCols": "client.age"}, {"excludedConditionCols": [{}]}],
)
def test_malformed_options_are_refused(options: Any) -> None:
    with pytest.raises(SolveError):
        SolveOptions.from_request(options)


def else_table() -> dict[str, Any]:
    return {
        "decisionTable": {
            "columns": [
                {
                    "type": "input",
                    "columnId": "c",
                    "condition": {"name": "C", "inputVariable": "x"},
                },
                {
                    "type": "output",
                    "columnId": "o",
                    "columnOutput": {"name": "O", "outputVariable": "y"},
                },
            ],
            "rows": [
                {"active": True, "cells": [_cond("c", "ELSE", ""), _out("o", "first else")]},
                {"active": True, "cells": [_cond("c", "=", "a"), _out("o", "a")]},
                {"active": True, "cells": [_cond("c", "ELSE", ""), _out("o", "fallback")]},
                {"active": True, "cells": [_cond("c", "=", "b"), _out("o", "b")]},
            ],
        }
    }


def test_else_passes_only_when_no_row_above_passed() -> None:
    rule = compile_rule(else_table())
    assert rule.solve({"x": "a"}) == [{"y": "first else"}, {"y": "a"}]
    assert rule.solve({"x": "b"}) == [{"y": "first else"}, {"y": "b"}]
    assert rule.solve({"x": "z"}) == [{"y": "first else"}]


def test_outputs_see_earlier_outputs_and_rule_variables() -> None:
    document = {
        "userVariables": [{"name": "rate", "value": "10"}, {}],
        "decisionTable": {
            "columns": [
                {
                    "type": "input",
                    "columnId": "c",
                    "condition": {"name": "C", "inputVariable": "x"},
                },
                {
                    "type": "output",
                    "columnId": "a",
                    "columnOutput": {"name": "A", "outputVariable": "p.base"},
                },
                {
                    "type": "output",
                    "columnId": "b",
                    "columnOutput": {"name": "B", "outputVariable": "p.total"},
                },
                {
                    "type": "output",
                    "columnId": "m",
                    "columnOutput": {"name": "M", "outputVariable": "msg"},
                },
            ],
            "rows": [
                {
                    "active": True,
                    "cells": [
                        _cond("c", "anything", ""),
                        _out("a", "{x}"),
                        _out("b", "{p.base}*{rate}", "function"),
                        _out("m", "{rate}% of {x}"),
                    ],
                }
            ],
        },
    }
    assert compile_rule(document).solve({"x": 4}) == [
        {"p": {"base": 4, "total": 40}, "msg": "10% of 4"}
    ]


def test_calculation_columns_feed_conditions_and_results() -> None:
    document = {
        "decisionTable": {
            "columns": [
                {
                    "type": "calculation",
                    "columnId": "k",
                    "columnCalculation": {"name": "Doubled", "variableName": "twice"},
                },
                {
                    "type": "input",
                    "columnId": "c",
                    "condition": {"name": "C", "inputVariable": "twice"},
                },
                {
                    "type": "output",
                    "columnId": "o",
                    "columnOutput": {"name": "O", "outputVariable": "y"},
                },
            ],
            "rows": [
                {
                    "active": True,
                    "cells": [
                        {
                            "type": "calculation",
                            "column": "k",
                            "outputScalarValue": {"type": "function", "value": "{x}*2"},
                        },
                        _cond("c", ">", "10"),
                        _out("o", "{twice}+1", "function"),
                    ],
                }
            ],
        }
    }
    rule = compile_rule(document)
    assert rule.solve({"x": 6}) == [{"y": 13}]
    assert rule.solve({"x": 5}) == []


def test_a_failing_function_gives_an_empty_value() -> None:
    document = else_table()
    document["decisionTable"]["rows"][1]["cells"][1] = _out("o", 'SUM({x}, "a")', "function")
    assert compile_rule(document).solve({"x": "a"}) == [{"y": "first else"}, {"y": None}]


def test_results_are_fresh_objects_for_every_solve() -> None:
    document = else_table()
    document["decisionTable"]["rows"][1]["cells"][1] = _out("o", '{"k": [1]}')
    rule = compile_rule(document)
    first = rule.solve({"x": "a"})
    first[1]["y"]["k"].append(2)
    assert rule.solve({"x": "a"})[1] == {"y": {"k": [1]}}


def test_the_hash_index_agrees_with_a_scan() -> None:
    """Random tables mixing indexable and other cells (ELSE and inactive rows too), solved
    with random options: lookups find exactly what testing every row finds."""
    generator = random.Random(7)
    operators = [
        ("=", "{v}"),
        ("=", "{v}"),
        ("=", '"{v}"'),
        ("IN", "{v}|{w}"),
        ("NOT IN", "{v}|{w}"),
        (">", "{v}"),
        ("BTW", "{v} AND {w}"),
        ("C TXT", "{v}"),
        ("NULL", ""),
        ("anything", ""),
        ("ELSE", ""),
    ]
    columns = [
        {
            "type": "input",
            "columnId": f"c{i}",
            "condition": {"name": f"C{i}", "inputVariable": f"x{i}"},
        }
        for i in range(3)
    ] + [
        {"type": "output", "columnId": "o", "columnOutput": {"name": "O", "outputVariable": "row"}}
    ]
    rows = []
    for number in range(300):
        cells = []
        for i in range(3):
            operator, template = generator.choice(operators[:3] if i == 0 else operators)
            value = template.format(v=generator.randint(0, 9), w=generator.randint(0, 9))
            cells.append(_cond(f"c{i}", operator, value))
        active = generator.random() > 0.1
        rows.append({"active": active, "cells": [*cells, _out("o", str(number))]})
    rule = compile_rule({"decisionTable": {"columns": columns, "rows": rows}})
    values: list[Any] = [None, "", "x", True, [1, 2], *range(-1, 11), *map(str, range(10))]
    for _ in range(300):
        data = {f"x{i}": generator.choice(values) for i in range(3)}
        options = generator.choice(
            [
                None,
                SolveOptions(excluded_condition_cols=frozenset({"x0"})),
                SolveOptions(included_condition_cols=frozenset({"x0", "x2"})),
            ]
        )
        scanned = scan(rule, data, options)
        assert rule.solve(data, options=options) == scanned
        assert rule.solve(data, options=options, strategy="FIRST_MATCH") == scanned[:1]


def scan(rule: Any, data: dict[str, Any], options: SolveOptions | None) -> list[Any]:
    """The matching rows found by testing every row (EVALUATE_ALL uses no index)."""
    return [
        row
        for row in rule.solve(data, strategy="EVALUATE_ALL", options=options)
        if row.pop("_match")
    ]
