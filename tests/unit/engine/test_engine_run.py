"""Running node-based flows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from engine_testkit import JOB, Recorder

from flowjobs.engine import EngineLimits, RunContext, compile_flow, run_flow
from flowjobs.errors import FlowExecutionError


def flow_of(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "test flow", "nodes": list(nodes), **extra}


EXAMPLE = {
    "name": "Sleepy echo",
    "alias": "sleepy-echo",
    "type": "integration-flow",
    "description": "waits, then returns what it was given",
    "settings": {"timeoutSeconds": 600},
    "nodes": [
        {"id": "pause", "type": "wait", "seconds": 0.01},
        {"id": "result", "type": "assign", "set": {"greeting": '"Hello " & input.name'}},
        {
            "id": "done",
            "type": "end",
            "output": '{"echo": input, "greeting": vars.greeting}',
        },
    ],
}


async def test_example_flow(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(EXAMPLE)
    assert (flow.name, flow.alias, flow.type) == ("Sleepy echo", "sleepy-echo", "integration-flow")
    assert flow.timeout_seconds == 600.0
    assert flow.document == EXAMPLE

    ctx: RunContext = make_ctx({"name": "Ann"})
    output = await run_flow(flow, ctx)

    assert output == {"echo": {"name": "Ann"}, "greeting": "Hello Ann"}
    assert [fraction for fraction, _ in recorder.progress] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert recorder.logs == []  # node lifecycle goes to the trace, not the log
    entries = ctx.trace.snapshot()["entries"]
    assert [(e["nodeId"], e["type"], e["path"], e["outcome"]) for e in entries] == [
        ("pause", "wait", "nodes[0]", "ok"),
        ("result", "assign", "nodes[1]", "ok"),
        ("done", "end", "nodes[2]", "ok"),
    ]


async def test_wait_seconds_from_expression_and_result(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "w", "type": "wait", "seconds": "input.delay / 1000"},
            {"id": "out", "type": "end", "output": "w"},
        )
    )
    assert await run_flow(flow, make_ctx({"delay": 5})) == {"waited": 0.005}


async def test_scope_sees_earlier_results_vars_and_job(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "first", "type": "assign", "set": {"a": "input.x + 1", "b": "vars.a * 10"}},
            {"id": "second", "type": "assign", "set": {"c": "first.b + 1"}},
            {
                "id": "out",
                "type": "end",
                "output": '{"first": first, "second": second, "vars": vars, "job": job.jobId}',
            },
        )
    )
    output = await run_flow(flow, make_ctx({"x": 1}))
    assert output == {
        "first": {"a": 2, "b": 20},
        "second": {"c": 21},
        "vars": {"a": 2, "b": 20, "c": 21},
        "job": JOB.job_id,
    }


async def test_end_stops_the_flow(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "stop", "type": "end", "output": "42"},
            {"id": "never", "type": "fail", "messageText": "must not run"},
        )
    )
    ctx: RunContext = make_ctx()
    assert await run_flow(flow, ctx) == 42
    assert [e["nodeId"] for e in ctx.trace.snapshot()["entries"]] == ["stop"]
    assert recorder.progress[-1][0] == 1.0


async def test_end_without_output_returns_null(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of({"id": "a", "type": "assign", "set": {"x": "1"}}, {"id": "stop", "type": "end"})
    )
    assert await run_flow(flow, make_ctx()) is None


async def test_flow_without_end_returns_vars(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "a", "type": "assign", "set": {"x": "input.n", "y": '"text"'}},
            {"id": "b", "type": "assign", "set": {"z": "[1, 2, 3]"}},
        )
    )
    assert await run_flow(flow, make_ctx({"n": 7})) == {"x": 7, "y": "text", "z": [1, 2, 3]}


async def test_fail_node_with_expression_message(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "a", "type": "assign", "set": {"x": "1"}},
            {"id": "boom", "type": "fail", "message": '"bad order " & input.order'},
        )
    )
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx({"order": "A-1"}))
    assert info.value.node_id == "boom"
    assert info.value.error_type == "FlowFailed"
    assert info.value.message == "bad order A-1"


async def test_fail_node_with_literal_text(make_ctx: Any) -> None:
    flow = compile_flow(flow_of({"id": "boom", "type": "fail", "messageText": "plain & text"}))
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx())
    assert (info.value.message, info.value.node_id) == ("plain & text", "boom")


async def test_expression_runtime_error(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(flow_of({"id": "calc", "type": "assign", "set": {"x": '"a" + 1'}}))
    ctx: RunContext = make_ctx()
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, ctx)
    assert info.value.node_id == "calc"
    assert info.value.error_type == "ExpressionError"
    assert "calc" in info.value.message and "set.x" in info.value.message
    [entry] = ctx.trace.snapshot()["entries"]
    assert entry["outcome"] == "error"
    assert entry["error"]["type"] == "ExpressionError" and entry["error"]["nodeId"] == "calc"


async def test_expression_timeout(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {
                "id": "spin",
                "type": "assign",
                "set": {"x": "$sum($map([1..1000000], function($v) { $v * 2 }))"},
            }
        )
    )
    limits = EngineLimits(expression_timeout_ms=50)
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx(), limits=limits)
    assert info.value.error_type == "ExpressionError"
    assert info.value.node_id == "spin"
    assert "timeout" in info.value.message.lower()


async def test_expression_recursion_depth_is_bounded(make_ctx: Any) -> None:
    source = "($f := function($n) { $n <= 0 ? 0 : 1 + $f($n - 1) }; $f(100000))"
    flow = compile_flow(
        flow_of({"id": "deep", "type": "end", "output": source}),
        limits=EngineLimits(expression_max_depth=50),
    )
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx())
    assert (info.value.error_type, info.value.node_id) == ("ExpressionError", "deep")


async def test_wait_rejects_negative_seconds_at_runtime(make_ctx: Any) -> None:
    flow = compile_flow(flow_of({"id": "w", "type": "wait", "seconds": "input.s"}))
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx({"s": -1}))
    assert info.value.node_id == "w"
    assert "negative" in info.value.message


async def test_wait_rejects_non_number_at_runtime(make_ctx: Any) -> None:
    flow = compile_flow(flow_of({"id": "w", "type": "wait", "seconds": "input.s"}))
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx({"s": "soon"}))
    assert info.value.node_id == "w"
    assert "number" in info.value.message


async def test_unexpected_node_exception_is_wrapped(
    make_ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flowjobs.engine.nodes.assign import AssignNode

    async def broken(self: AssignNode, state: Any) -> Any:
        raise KeyError("gone")

    monkeypatch.setattr(AssignNode, "run", broken)
    flow = compile_flow(flow_of({"id": "a", "type": "assign", "set": {"x": "1"}}))
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx())
    assert (info.value.error_type, info.value.node_id) == ("KeyError", "a")
    assert isinstance(info.value.__cause__, KeyError)


async def test_cancel_task_interrupts_wait(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "long", "type": "wait", "seconds": 3600},
            {"id": "after", "type": "assign", "set": {"x": "1"}},
        )
    )
    ctx: RunContext = make_ctx()
    task = asyncio.create_task(run_flow(flow, ctx))
    while not ctx.trace.revision:  # until the wait node has started
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    assert task.cancelled()
    assert ctx.is_canceled()
    [entry] = ctx.trace.snapshot()["entries"]
    assert (entry["nodeId"], entry["endedAt"]) == ("long", None)  # interrupted


async def test_context_cancel_stops_wait(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(flow_of({"id": "long", "type": "wait", "seconds": 3600}))
    ctx: RunContext = make_ctx()
    task = asyncio.create_task(run_flow(flow, ctx))
    while not ctx.trace.revision:
        await asyncio.sleep(0.001)
    ctx.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=10)
    assert [e["outcome"] for e in ctx.trace.snapshot()["entries"]] == [None]


async def test_already_canceled_context_runs_nothing(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(flow_of({"id": "a", "type": "assign", "set": {"x": "1"}}))
    ctx: RunContext = make_ctx()
    ctx.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run_flow(flow, ctx)
    assert recorder.logs == []
    assert ctx.trace.snapshot()["totalEntries"] == 0
