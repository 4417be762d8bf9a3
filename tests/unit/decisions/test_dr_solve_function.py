"""SOLVE: a table calling other rules through SolveContext, with a depth limit.

Source: rules_data-types-and-functions_operators_functions_integration-functions.md and
samples/Solve_Example_v1.json, which checks itself (every ``pass`` must be true).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from dr_testkit import SAMPLES, one_condition_table

from flowjobs.decisions import (
    CompiledRule,
    SolveContext,
    SolveDepthError,
    compile_rule,
    referenced_rules,
)
from flowjobs.errors import RuleNotFoundError


class Space:
    """Compiled rules by alias and version, answering SOLVE as a store would."""

    def __init__(self, rules: dict[tuple[str, int], CompiledRule]) -> None:
        self.rules = rules
        self.calls: list[tuple[str, int | None, Any, str]] = []

    def solve_rule(self, rule: str, version: int | None, data: Any, strategy: str) -> Any:
        self.calls.append((rule, version, data, strategy))
        key = (rule, version if version is not None else max(v for r, v in self.rules if r == rule))
        if key not in self.rules:
            raise RuleNotFoundError()
        return self.rules[key].solve(data, strategy=strategy, context=self.context())

    def context(self) -> SolveContext:
        return SolveContext(self.solve_rule)


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return loaded


def plant_space() -> Space:
    return Space({("plant-items-example", 1): compile_rule(sample("Plant_Items_Example_v1"))})


def solve_cell(expression: str, space: Space, data: dict[str, Any] | None = None) -> Any:
    document = one_condition_table("anything", "")
    document["decisionTable"]["rows"][0]["cells"][1]["outputScalarValue"] = {
        "type": "function",
        "value": expression,
    }
    result = compile_rule(document).solve(data or {}, context=space.context())
    return result[0]["hit"]


PLANTS = [
    {"name": "Monstera", "price": 460, "available": True},
    {"name": "Begonia", "price": 590, "available": False},
    {"name": "Maranta", "price": 390, "available": True},
]


def test_solve_calls_the_rule_with_its_input() -> None:
    space = plant_space()
    assert solve_cell('SOLVE("plant-items-example",{"group":"plant"})', space) == PLANTS
    assert space.calls == [("plant-items-example", None, {"group": "plant"}, "STANDARD")]


def test_solve_options_strategy_version_and_path() -> None:
    space = plant_space()
    first = 'SOLVE("plant-items-example",{"group":"plant"},{"strategy":"FIRST_MATCH"})'
    assert solve_cell(first, space) == PLANTS[:1]
    named = 'SOLVE("plant-items-example",{"group":"plant"},{"version":1,"path":"name"})'
    assert solve_cell(named, space) == "Monstera"
    names = 'SOLVE("plant-items-example",{"group":{g}},{"strategy":"ARRAY","path":"name"})'
    assert solve_cell(names, space, {"g": "plant"}) == ["Monstera", "Begonia", "Maranta"]


def test_solve_of_a_missing_version_is_an_empty_object() -> None:
    missing = 'SOLVE("plant-items-example",{"group":"plant"},{"version":99,"path":"name"})'
    assert solve_cell(missing, plant_space()) == {}


def test_a_callback_refusing_the_rule_gives_an_empty_object() -> None:
    # a store may answer an unknown rule with any flowjobs error, SolveError included
    from flowjobs.decisions import SolveError

    def refuse(rule: str, version: int | None, data: Any, strategy: str) -> Any:
        raise SolveError(f"no published rule {rule!r}")

    document = one_condition_table("anything", "")
    document["decisionTable"]["rows"][0]["cells"][1]["outputScalarValue"] = {
        "type": "function",
        "value": 'SOLVE("nope", {})',
    }
    assert compile_rule(document).solve({}, context=SolveContext(refuse)) == [{"hit": {}}]


def test_solve_without_a_callback_is_an_error() -> None:
    from flowjobs.decisions import SolveError

    with pytest.raises(SolveError):
        compile_rule(_solve_table('SOLVE("x", {})')).solve({})


def _solve_table(expression: str) -> dict[str, Any]:
    document = one_condition_table("anything", "")
    document["decisionTable"]["rows"][0]["cells"][1]["outputScalarValue"] = {
        "type": "function",
        "value": expression,
    }
    return document


def test_solve_nested_past_the_limit_is_an_error() -> None:
    document = one_condition_table("anything", "")
    document["decisionTable"]["rows"][0]["cells"][1]["outputScalarValue"] = {
        "type": "function",
        "value": 'SOLVE("loop", {})',
    }
    space = Space({})
    space.rules[("loop", 1)] = compile_rule(document)
    with pytest.raises(SolveDepthError):
        space.rules[("loop", 1)].solve({}, context=space.context())
    assert len(space.calls) == SolveContext().max_depth


def test_referenced_rules_are_found_for_preloading() -> None:
    assert referenced_rules(sample("Solve_Example_v1")) == {
        ("plant-items-example", None),
        ("plant-items-example", 1),
        ("plant-items-example", 99),
    }


@pytest.mark.parametrize("value", ["active", "experimental", "debug"])
def test_solve_example_passes_every_row(value: str) -> None:
    rule = compile_rule(sample("Solve_Example_v1"))
    rows = rule.solve({"filter": value}, context=plant_space().context())
    assert all(row["pass"] is True for row in rows), [r for r in rows if r["pass"] is not True]
    if value == "active":
        assert len(rows) == 10


def test_a_stack_too_deep_for_python_is_a_400_not_a_crash() -> None:
    """Eight SOLVE levels (allowed) of expressions 45 calls deep outgrow the stack."""
    import inspect
    import sys

    space = Space({})
    for level in range(8):
        inner = f'COUNT(SOLVE("r{level + 1}", {{}}))' if level < 7 else "1"
        document = one_condition_table("anything", "")
        document["decisionTable"]["rows"][0]["cells"][1]["outputScalarValue"] = {
            "type": "function",
            "value": "ABS(" * 45 + inner + ")" * 45,
        }
        space.rules[(f"r{level}", 1)] = compile_rule(document)
    assert space.rules[("r7", 1)].solve({}) == [{"hit": 1}]
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 400)  # well below 8 levels' need
    try:
        with pytest.raises(SolveDepthError):
            space.rules[("r0", 1)].solve({}, context=space.context())
    finally:
        sys.setrecursionlimit(limit)
