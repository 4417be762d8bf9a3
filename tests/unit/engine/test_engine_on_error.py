"""onError (continue, goto, as) and node timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from engine_testkit import flow_of, other_tasks

from flowjobs.engine import RunContext, compile_flow, run_flow
from flowjobs.engine.state import MAX_JUMPS
from flowjobs.errors import FlowExecutionError, FlowValidationError

BOOM = {"id": "boom", "type": "fail", "messageText": "it broke"}


def problems_of(*nodes: dict[str, Any]) -> list[str]:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(flow_of(*nodes))
    return info.value.problems


async def test_continue_records_the_error(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {**BOOM, "onError": {"goto": "continue", "as": "err"}},
            {"id": "after", "type": "assign", "set": {"boomResult": "boom"}},
        )
    )
    ctx: RunContext = make_ctx()
    output = await run_flow(flow, ctx)
    assert output == {
        "err": {"message": "it broke", "nodeId": "boom", "type": "FlowFailed"},
        "boomResult": None,
    }
    outcomes = [(e["nodeId"], e["outcome"]) for e in ctx.trace.snapshot()["entries"]]
    assert outcomes == [("boom", "caught"), ("after", "ok")]


async def test_continue_is_the_default_and_as_is_optional(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {**BOOM, "onError": {}},
            {"id": "out", "type": "end", "output": '"went on"'},
        )
    )
    assert await run_flow(flow, make_ctx()) == "went on"


async def test_goto_forward_skips_nodes(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {
                "id": "calc",
                "type": "assign",
                "set": {"x": '"a" + 1'},
                "onError": {"goto": "handle", "as": "e"},
            },
            {"id": "skipped", "type": "fail", "messageText": "must not run"},
            {"id": "handle", "type": "end", "output": "vars.e.type"},
        )
    )
    assert await run_flow(flow, make_ctx()) == "ExpressionError"


async def test_goto_backward_retries(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "count", "type": "assign", "set": {"n": "($exists(vars.n) ? vars.n : 0) + 1"}},
            {
                "id": "check",
                "type": "wait",
                "seconds": "vars.n < 3 ? -1 : 0",
                "onError": {"goto": "count"},
            },
            {"id": "out", "type": "end", "output": "vars.n"},
        )
    )
    assert await run_flow(flow, make_ctx()) == 3


async def test_endless_goto_loop_is_stopped(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "a", "type": "assign", "set": {"x": "1"}},
            {**BOOM, "onError": {"goto": "a"}},
        )
    )
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx())
    assert info.value.error_type == "LimitExceeded"
    assert f"more than {MAX_JUMPS} onError jumps" in info.value.message
    assert info.value.node_id == "boom"


async def test_error_from_a_nested_node_is_caught_by_the_container(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {
                "id": "sw",
                "type": "switch",
                "cases": [{"when": "true", "nodes": [BOOM]}],
                "onError": {"as": "err"},
            },
            {"id": "out", "type": "end", "output": "vars.err.nodeId"},
        )
    )
    assert await run_flow(flow, make_ctx()) == "boom"


async def test_unexpected_exception_is_caught(
    make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowjobs.engine.nodes.log import LogNode

    async def broken(self: LogNode, state: Any) -> Any:
        raise KeyError("gone")

    monkeypatch.setattr(LogNode, "run", broken)
    flow = compile_flow(
        flow_of(
            {"id": "lg", "type": "log", "message": '"x"', "onError": {"as": "err"}},
        )
    )
    output = await run_flow(flow, make_ctx())
    assert output["err"]["type"] == "KeyError" and output["err"]["nodeId"] == "lg"


def test_goto_validation() -> None:
    problems = problems_of(
        {"id": "a", "type": "assign", "set": {"x": "1"}, "onError": {"goto": "nowhere"}},
        {"id": "b", "type": "assign", "set": {"x": "1"}, "onError": {"goto": "b"}},
        {
            "id": "sw",
            "type": "switch",
            "cases": [
                {
                    "when": "true",
                    "nodes": [{**BOOM, "onError": {"goto": "a"}}],  # a is in another list
                }
            ],
        },
        {"id": "c", "type": "assign", "set": {"x": "1"}, "onError": {"goto": "sw"}},
    )
    assert sorted(problems) == [
        'nodes[0] (id "a"): onError.goto: unknown node "nowhere" '
        "(it must be in the same node list)",
        'nodes[1] (id "b"): onError.goto: a node cannot jump to itself',
        'nodes[2] (id "sw").cases[0].nodes[0] (id "boom"): onError.goto: unknown node "a" '
        "(it must be in the same node list)",
    ]


def test_on_error_shape_validation() -> None:
    problems = problems_of(
        {**BOOM, "onError": {"as": "not-ident"}},
        {"id": "b", "type": "end", "onError": {"retry": 3}},
        {"id": "c", "type": "end", "onError": "continue"},
    )
    assert any(p.startswith('nodes[0] (id "boom"): onError.as:') for p in problems)
    assert 'nodes[1] (id "b"): onError.retry: unknown field' in problems
    assert any(p.startswith('nodes[2] (id "c"): onError:') for p in problems)


async def test_timeout_uncaught(make_ctx: Any) -> None:
    flow = compile_flow(flow_of({"id": "slow", "type": "wait", "seconds": 3600, "timeout": 0.01}))
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx())
    assert (info.value.error_type, info.value.node_id) == ("NodeTimeout", "slow")
    assert 'node "slow" timed out after 0.01 seconds' in info.value.message


async def test_timeout_caught(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {
                "id": "slow",
                "type": "wait",
                "seconds": 3600,
                "timeout": 0.01,
                "onError": {"goto": "out", "as": "err"},
            },
            {"id": "skipped", "type": "fail", "messageText": "x"},
            {"id": "out", "type": "end", "output": "vars.err"},
        )
    )
    output = await run_flow(flow, make_ctx())
    assert output["type"] == "NodeTimeout" and output["nodeId"] == "slow"


async def test_timeout_of_a_parallel_foreach_cancels_its_iterations(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {
                "id": "loop",
                "type": "foreach",
                "items": "[1, 2, 3]",
                "parallel": 3,
                "timeout": 0.01,
                "nodes": [{"id": "w", "type": "wait", "seconds": 3600}],
                "onError": {"as": "err"},
            }
        )
    )
    before = other_tasks()
    output = await run_flow(flow, make_ctx())
    assert output["err"]["type"] == "NodeTimeout"
    assert other_tasks() == before


async def test_a_cancel_is_not_caught(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "w", "type": "wait", "seconds": 3600, "onError": {"as": "err"}},
            {"id": "after", "type": "assign", "set": {"x": "1"}},
        )
    )
    ctx: RunContext = make_ctx()
    task = asyncio.create_task(run_flow(flow, ctx))
    while not ctx.trace.revision:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e["nodeId"] for e in ctx.trace.snapshot()["entries"]] == ["w"]


@pytest.mark.parametrize("timeout", [0, -1, "5", float("inf"), True])
def test_timeout_validation(timeout: Any) -> None:
    problems = problems_of({"id": "w", "type": "wait", "seconds": 1, "timeout": timeout})
    assert len(problems) == 1 and problems[0].startswith('nodes[0] (id "w"): timeout:')


def test_integer_timeout_is_accepted() -> None:
    flow = compile_flow(flow_of({"id": "w", "type": "wait", "seconds": 1, "timeout": 5}))
    assert flow.nodes[0].timeout == 5
