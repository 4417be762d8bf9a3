"""The switch node."""

from __future__ import annotations

from typing import Any

import pytest
from engine_testkit import flow_of

from flowjobs.engine import RunContext, compile_flow, run_flow
from flowjobs.engine.nodes.switch import truthy
from flowjobs.errors import FlowExecutionError, FlowValidationError


def mark(node_id: str, value: str) -> dict[str, Any]:
    return {"id": node_id, "type": "assign", "set": {"ran": f'$append(vars.ran, "{value}")'}}


def switch(**fields: Any) -> dict[str, Any]:
    return {
        "id": "sw",
        "type": "switch",
        "cases": [
            {"when": "input.n > 10", "nodes": [mark("big", "big")]},
            {"when": "input.n > 5", "nodes": [mark("medium", "medium")]},
            {"when": "input.n > 0", "nodes": [mark("small", "small")]},
        ],
        **fields,
    }


def flow(**fields: Any) -> Any:
    return compile_flow(
        flow_of(
            {"id": "init", "type": "declare", "vars": {"ran": "[]"}},
            switch(**fields),
            {"id": "out", "type": "end", "output": '{"sw": sw, "ran": vars.ran}'},
        )
    )


@pytest.mark.parametrize(
    ("n", "matched", "ran"),
    [(20, [0], ["big"]), (7, [1], ["medium"]), (1, [2], ["small"]), (0, [], [])],
)
async def test_first_strategy(make_ctx: Any, n: int, matched: list[int], ran: list[str]) -> None:
    output = await run_flow(flow(), make_ctx({"n": n}))
    assert output == {"sw": {"matched": matched, "default": False}, "ran": ran}


async def test_all_strategy_runs_every_winner_in_order(make_ctx: Any) -> None:
    output = await run_flow(flow(strategy="all"), make_ctx({"n": 20}))
    assert output == {
        "sw": {"matched": [0, 1, 2], "default": False},
        "ran": ["big", "medium", "small"],
    }
    output = await run_flow(flow(strategy="all"), make_ctx({"n": 6}))
    assert output["sw"]["matched"] == [1, 2]


async def test_default_runs_when_nothing_wins(make_ctx: Any) -> None:
    compiled = flow(default=[mark("fallback", "default")])
    ctx: RunContext = make_ctx({"n": -1})
    output = await run_flow(compiled, ctx)
    assert output == {"sw": {"matched": [], "default": True}, "ran": ["default"]}
    paths = {e["nodeId"]: e["path"] for e in ctx.trace.snapshot()["entries"]}
    assert paths["fallback"] == "nodes[1].default[0]"
    output = await run_flow(compiled, make_ctx({"n": 3}))
    assert output["sw"] == {"matched": [2], "default": False}


async def test_case_nodes_share_results_and_trace_paths(make_ctx: Any) -> None:
    ctx: RunContext = make_ctx({"n": 7})
    compiled = compile_flow(
        flow_of(
            switch(),
            {"id": "out", "type": "end", "output": "medium"},
        )
    )
    assert await run_flow(compiled, ctx) == {"ran": "medium"}
    entries = [(e["nodeId"], e["path"]) for e in ctx.trace.snapshot()["entries"]]
    assert entries == [
        ("sw", "nodes[0]"),
        ("medium", "nodes[0].cases[1].nodes[0]"),
        ("out", "nodes[1]"),
    ]


async def test_end_inside_a_case_ends_the_flow(make_ctx: Any) -> None:
    compiled = compile_flow(
        flow_of(
            {
                "id": "sw",
                "type": "switch",
                "strategy": "all",
                "cases": [
                    {"when": "true", "nodes": [{"id": "stop", "type": "end", "output": "1"}]},
                    {"when": "true", "nodes": [{"id": "no", "type": "fail", "messageText": "x"}]},
                ],
            },
            {"id": "never", "type": "fail", "messageText": "x"},
        )
    )
    assert await run_flow(compiled, make_ctx()) == 1


async def test_failing_condition(make_ctx: Any) -> None:
    compiled = compile_flow(
        flow_of(
            {
                "id": "sw",
                "type": "switch",
                "cases": [{"when": '"a" + 1', "nodes": [mark("a", "a")]}],
            }
        )
    )
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(compiled, make_ctx())
    assert info.value.node_id == "sw" and "cases[0].when" in info.value.message


def test_validation() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            flow_of(
                {
                    "id": "sw",
                    "type": "switch",
                    "cases": [
                        {"when": "1 +", "nodes": [mark("a", "a")]},
                        {"when": "true", "nodes": []},
                        {"when": "true", "nodes": [{"id": "w", "type": "wait"}], "extra": 1},
                    ],
                    "default": [{"id": "b", "type": "nope"}],
                    "strategy": "some",
                },
                {"id": "sw2", "type": "switch", "cases": []},
                {"id": "sw3", "type": "switch", "cases": [{"when": "true", "nodes": "x"}]},
            )
        )
    problems = info.value.problems
    assert any(p.startswith('nodes[0] (id "sw"): cases.2.extra: unknown field') for p in problems)
    assert any(p.startswith('nodes[0] (id "sw"): strategy:') for p in problems)
    assert 'nodes[1] (id "sw2"): cases: must contain at least one case' in problems
    assert 'nodes[2] (id "sw3").cases[0].nodes: must be a list of nodes' in problems


def test_nested_problems_carry_the_case_location() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            flow_of(
                {
                    "id": "sw",
                    "type": "switch",
                    "cases": [
                        {"when": "1 +", "nodes": [mark("a", "a")]},
                        {"when": "true", "nodes": []},
                    ],
                    "default": [{"id": "b", "type": "nope"}],
                }
            )
        )
    problems = info.value.problems
    assert any(p.startswith('nodes[0] (id "sw"): cases[0].when: invalid JSONata') for p in problems)
    assert 'nodes[0] (id "sw").cases[1].nodes: must contain at least one node' in problems
    assert any(
        p.startswith('nodes[0] (id "sw").default[0] (id "b"): unknown node type') for p in problems
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (None, False),
        (0, False),
        (2, True),
        ("", False),
        ("x", True),
        ([], False),
        ([0, ""], False),
        ([0, 1], True),
        ({}, False),
        ({"a": 1}, True),
    ],
)
def test_truthiness(value: Any, expected: bool) -> None:
    assert truthy(value) is expected


def test_walk_nodes_includes_nested_ones() -> None:
    compiled = compile_flow(
        flow_of(
            switch(default=[{"id": "d", "type": "log", "message": '"x"'}]),
            {
                "id": "loop",
                "type": "foreach",
                "items": "[1]",
                "nodes": [{"id": "inner", "type": "declare", "vars": {"v": "1"}}],
            },
        )
    )
    ids = [node.id for node in compiled.walk_nodes()]
    assert ids == ["sw", "big", "medium", "small", "d", "loop", "inner"]
