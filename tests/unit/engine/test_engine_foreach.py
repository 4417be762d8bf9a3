"""The foreach node: sequential and parallel loops, collect, end, cancellation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from engine_testkit import JOB, Recorder, flow_of, other_tasks

from flowjobs.engine import EngineLimits, RunContext, compile_flow, run_flow
from flowjobs.errors import FlowExecutionError, FlowValidationError


def foreach(body: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"id": "loop", "type": "foreach", "items": "input.items", "nodes": body, **fields}


def out(expression: str = "loop") -> dict[str, Any]:
    return {"id": "out", "type": "end", "output": expression}


async def test_sequential_collects_last_result_and_sees_iteration(
    make_ctx: Any, recorder: Recorder
) -> None:
    body = [
        {
            "id": "seen",
            "type": "assign",
            "set": {"x": '{"item": loop.currentItem, "index": loop.index, "of": loop.length}'},
        }
    ]
    flow = compile_flow(flow_of(foreach(body), out()))
    output = await run_flow(flow, make_ctx({"items": ["a", "b", "c"]}))
    assert output == [
        {"x": {"item": "a", "index": 0, "of": 3}},
        {"x": {"item": "b", "index": 1, "of": 3}},
        {"x": {"item": "c", "index": 2, "of": 3}},
    ]
    assert recorder.items == [(1, 3), (2, 3), (3, 3)]


async def test_collect_expression_and_shared_vars(make_ctx: Any) -> None:
    body = [
        {"id": "sq", "type": "assign", "set": {"total": "vars.total + loop.currentItem"}},
    ]
    flow = compile_flow(
        flow_of(
            {"id": "init", "type": "declare", "vars": {"total": "0"}},
            foreach(body, collect="loop.currentItem * loop.currentItem"),
            out('{"squares": loop, "total": vars.total}'),
        )
    )
    output = await run_flow(flow, make_ctx({"items": [1, 2, 3, 4]}))
    assert output == {"squares": [1, 4, 9, 16], "total": 10}


async def test_iteration_results_are_isolated(make_ctx: Any) -> None:
    body = [
        {"id": "inner", "type": "assign", "set": {"seen": "inner"}},
        {"id": "inner2", "type": "assign", "set": {"x": "loop.currentItem"}},
    ]
    flow = compile_flow(
        flow_of(
            {"id": "before", "type": "assign", "set": {"b": "1"}},
            foreach(body, collect="before.b + loop.currentItem"),
            out('{"loop": loop, "inner": inner, "seen": vars.seen}'),
        )
    )
    output = await run_flow(flow, make_ctx({"items": [10, 20]}))
    # each iteration starts without the previous iteration's results
    assert output == {"loop": [11, 21], "seen": None}


async def test_empty_items(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(flow_of(foreach([{"id": "a", "type": "assign", "set": {"x": "1"}}]), out()))
    assert await run_flow(flow, make_ctx({"items": []})) == []
    assert recorder.items == []


async def test_parallel_keeps_input_order_and_bounds_concurrency(make_ctx: Any, probe: Any) -> None:
    # later items finish first: item k yields to the loop (10 - k) times
    body = [
        {"id": "p", "type": "probe", "value": "loop.currentItem", "ticks": "10 - loop.currentItem"}
    ]
    flow = compile_flow(flow_of(foreach(body, parallel=3), out()))
    items = [1, 2, 3, 4, 5, 6, 7]
    ctx: RunContext = make_ctx({"items": items})
    assert await run_flow(flow, ctx) == items
    assert probe.max_in_flight == 3
    assert probe.finished != items  # they did finish out of order
    paths = sorted(e["path"] for e in ctx.trace.snapshot()["entries"] if e["nodeId"] == "p")
    assert paths == sorted(f"nodes[0].foreach[{i}].nodes[0]" for i in range(7))


async def test_parallel_from_expression(make_ctx: Any, probe: Any) -> None:
    body = [{"id": "p", "type": "probe", "value": "loop.index"}]
    flow = compile_flow(flow_of(foreach(body, parallel="input.n"), out()))
    assert await run_flow(flow, make_ctx({"items": [0] * 6, "n": 2})) == list(range(6))
    assert probe.max_in_flight == 2
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx({"items": [0], "n": 1000}))
    assert "max_parallel" in info.value.message and info.value.node_id == "loop"


async def test_items_must_be_an_array(make_ctx: Any) -> None:
    flow = compile_flow(flow_of(foreach([{"id": "a", "type": "assign", "set": {"x": "1"}}])))
    for value, kind in [({"a": 1}, "dict"), (None, "null"), ("abc", "str")]:
        with pytest.raises(FlowExecutionError) as info:
            await run_flow(flow, make_ctx({"items": value}))
        assert info.value.node_id == "loop"
        assert f"items must evaluate to an array, got {kind}" in info.value.message


async def test_max_foreach_items(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(foreach([{"id": "a", "type": "assign", "set": {"x": "1"}}])),
        limits=EngineLimits(max_foreach_items=3),
    )
    assert await run_flow(flow, make_ctx({"items": [1, 2, 3]})) == {"x": 1}
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx({"items": [1, 2, 3, 4]}))
    assert info.value.error_type == "LimitExceeded"
    assert "4 items" in info.value.message and "max_foreach_items" in info.value.message


def test_parallel_validation() -> None:
    body = [{"id": "a", "type": "assign", "set": {"x": "1"}}]
    for parallel, expected in [
        (0, "parallel must be at least 1"),
        (65, "parallel 65 is over the limit of 64 (max_parallel)"),
        (True, "parallel"),
        ("1 +", "parallel: invalid JSONata"),
    ]:
        with pytest.raises(FlowValidationError) as info:
            compile_flow(flow_of(foreach(body, parallel=parallel)))
        assert any(expected in p for p in info.value.problems), info.value.problems
    with pytest.raises(FlowValidationError) as info:
        compile_flow(flow_of(foreach(body, parallel=5)), limits=EngineLimits(max_parallel=4))
    assert 'nodes[0] (id "loop"): parallel 5 is over the limit of 4 (max_parallel)' in (
        info.value.problems
    )


def test_body_problems_carry_the_nested_location() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(flow_of(foreach([{"id": "bad", "type": "wait", "seconds": -1}])))
    assert any(
        p.startswith('nodes[0] (id "loop").nodes[0] (id "bad"): seconds must not be negative')
        for p in info.value.problems
    )
    with pytest.raises(FlowValidationError) as info:
        compile_flow(flow_of(foreach([])))
    assert info.value.problems == ['nodes[0] (id "loop").nodes: must contain at least one node']


async def test_end_inside_a_sequential_body_ends_the_flow(make_ctx: Any) -> None:
    stop = {"id": "stop", "type": "end", "output": '"ended at " & loop.currentItem'}
    body: list[dict[str, Any]] = [
        {
            "id": "sw",
            "type": "switch",
            "cases": [{"when": "loop.currentItem = 2", "nodes": [stop]}],
        },
        {"id": "after", "type": "assign", "set": {"last": "loop.currentItem"}},
    ]
    flow = compile_flow(flow_of(foreach(body), {"id": "never", "type": "fail", "messageText": "x"}))
    ctx: RunContext = make_ctx({"items": [1, 2, 3]})
    assert await run_flow(flow, ctx) == "ended at 2"
    ids = [e["nodeId"] for e in ctx.trace.snapshot()["entries"]]
    assert ids == ["loop", "sw", "after", "sw", "stop"]


async def test_end_inside_a_parallel_body_stops_the_other_iterations(make_ctx: Any) -> None:
    body = [
        {"id": "w", "type": "wait", "seconds": "loop.currentItem = 2 ? 0 : 3600"},
        {"id": "stop", "type": "end", "output": '"ended at " & loop.currentItem'},
    ]
    flow = compile_flow(
        flow_of(foreach(body, parallel=3), {"id": "never", "type": "fail", "messageText": "x"})
    )
    before = other_tasks()
    ctx: RunContext = make_ctx({"items": [1, 2, 3]})
    assert await run_flow(flow, ctx) == "ended at 2"
    assert other_tasks() == before
    entries = ctx.trace.snapshot()["entries"]
    assert "never" not in [e["nodeId"] for e in entries]
    waits = {e["path"]: e["outcome"] for e in entries if e["nodeId"] == "w"}
    assert waits.pop("nodes[0].foreach[1].nodes[0]") == "ok"
    assert set(waits.values()) <= {None}  # interrupted (or never started)


async def test_failing_iteration_cancels_its_siblings(make_ctx: Any) -> None:
    body = [
        {"id": "w", "type": "wait", "seconds": "loop.currentItem = 1 ? 0 : 3600"},
        {"id": "boom", "type": "fail", "message": '"item " & loop.currentItem & " failed"'},
    ]
    flow = compile_flow(flow_of(foreach(body, parallel=3)))
    before = other_tasks()
    ctx: RunContext = make_ctx({"items": [0, 1, 2, 3]})
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, ctx)
    assert (info.value.message, info.value.node_id) == ("item 1 failed", "boom")
    assert other_tasks() == before
    entries = ctx.trace.snapshot()["entries"]
    waits = {e["path"]: e["outcome"] for e in entries if e["nodeId"] == "w"}
    assert waits == {
        "nodes[0].foreach[0].nodes[0]": None,  # interrupted
        "nodes[0].foreach[1].nodes[0]": "ok",
        "nodes[0].foreach[2].nodes[0]": None,
    }
    assert entries[0]["nodeId"] == "loop" and entries[0]["outcome"] == "error"


async def test_cancel_of_a_parallel_foreach_leaves_no_tasks(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(foreach([{"id": "w", "type": "wait", "seconds": 3600}], parallel=4))
    )
    before = other_tasks()
    ctx: RunContext = make_ctx({"items": list(range(10))})
    task = asyncio.create_task(run_flow(flow, ctx))
    while ctx.trace.snapshot()["totalEntries"] < 5:  # the loop and four waits
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ctx.is_canceled()
    assert other_tasks() == before


async def test_context_cancel_stops_a_parallel_foreach(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(foreach([{"id": "w", "type": "wait", "seconds": 3600}], parallel=3))
    )
    before = other_tasks()
    ctx: RunContext = make_ctx({"items": list(range(5))})
    task = asyncio.create_task(run_flow(flow, ctx))
    while ctx.trace.snapshot()["totalEntries"] < 4:
        await asyncio.sleep(0.001)
    ctx.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert other_tasks() - {task} == before - {task}


async def test_nested_foreach_paths(make_ctx: Any, recorder: Recorder) -> None:
    inner = {
        "id": "inner",
        "type": "foreach",
        "items": "loop.currentItem",
        "nodes": [{"id": "x", "type": "assign", "set": {"v": "inner.currentItem"}}],
        "collect": "inner.currentItem * 10",
    }
    flow = compile_flow(flow_of(foreach([inner]), out()))
    ctx: RunContext = make_ctx({"items": [[1, 2], [3]]})
    assert await run_flow(flow, ctx) == [[10, 20], [30]]
    paths = [e["path"] for e in ctx.trace.snapshot()["entries"] if e["nodeId"] == "x"]
    assert paths == [
        "nodes[0].foreach[0].nodes[0].foreach[0].nodes[0]",
        "nodes[0].foreach[0].nodes[0].foreach[1].nodes[0]",
        "nodes[0].foreach[1].nodes[0].foreach[0].nodes[0]",
    ]
    assert recorder.items == [(1, 2), (2, 2)]  # the outer loop only


async def test_items_progress_reaches_the_loop_thread(recorder: Recorder) -> None:
    ctx = RunContext(None, JOB, on_items=recorder.on_items)
    ctx.bind_loop(asyncio.get_running_loop())
    await asyncio.to_thread(ctx.items, 1, 2)
    await asyncio.sleep(0)
    assert recorder.items == [(1, 2)]
    assert recorder.threads == {threading.get_ident()}
