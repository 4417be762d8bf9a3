"""The ``call`` node (with a dict-backed resolver standing in for the catalog)
and ``called_flows``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from engine_testkit import Recorder

from flowjobs.engine import (
    EngineLimits,
    EngineServices,
    Flow,
    FlowResolver,
    called_flows,
    compile_flow,
    run_flow,
)
from flowjobs.errors import FlowExecutionError, FlowValidationError


def resolver_of(
    flows: dict[tuple[str, int | None], dict[str, Any]],
) -> tuple[FlowResolver, list[Any]]:
    """A resolver over compiled documents keyed by (identifier, version); records calls."""
    compiled = {key: compile_flow(document) for key, document in flows.items()}
    calls: list[tuple[str, int | None]] = []

    async def resolve(identifier: str, version: int | None) -> Flow:
        calls.append((identifier, version))
        await asyncio.sleep(0)
        flow = compiled.get((identifier, version))
        if flow is None:
            raise FlowExecutionError(
                f'flow "{identifier}" version {version or "latest"} not found',
                error_type="FlowNotFound",
            )
        return flow

    return resolve, calls


DOUBLER = {
    "name": "doubler",
    "nodes": [
        {"id": "calc", "type": "assign", "set": {"doubled": "input.n * 2"}},
        {"id": "done", "type": "end", "output": '{"doubled": vars.doubled, "job": job.jobId}'},
    ],
}
NO_END = {"name": "no end", "nodes": [{"id": "a", "type": "assign", "set": {"x": "input + 1"}}]}


def caller(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "caller", "nodes": list(nodes)}


async def test_call_returns_sub_flow_output(make_ctx: Any, recorder: Recorder) -> None:
    resolve, calls = resolver_of({("doubler", None): DOUBLER, ("noend", 3): NO_END})
    flow = compile_flow(
        caller(
            {"id": "calc", "type": "assign", "set": {"mine": "1"}},
            {"id": "d", "type": "call", "flow": "doubler", "input": '{"n": input.n}'},
            {"id": "e", "type": "call", "flow": "noend", "version": 3, "input": "d.doubled"},
            {"id": "out", "type": "end", "output": '{"d": d, "e": e, "vars": vars, "calc": calc}'},
        )
    )
    output = await run_flow(
        flow, make_ctx({"n": 21}), services=EngineServices(resolve_flow=resolve)
    )
    assert output == {
        "d": {"doubled": 42, "job": "job-1"},
        "e": {"x": 43},
        "vars": {"mine": 1},  # the called flows' variables stay theirs
        "calc": {"mine": 1},  # and so do their node results (same ids)
    }
    assert calls == [("doubler", None), ("noend", 3)]
    # progress is the calling flow's only
    assert [fraction for fraction, _ in recorder.progress] == pytest.approx([0.25, 0.5, 0.75, 1.0])


async def test_missing_flow_fails(make_ctx: Any) -> None:
    resolve, _ = resolver_of({})
    flow = compile_flow(caller({"id": "c", "type": "call", "flow": "ghost", "version": 2}))
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx(), services=EngineServices(resolve_flow=resolve))
    assert info.value.error_type == "FlowNotFound"
    assert "ghost" in info.value.message


async def test_no_resolver_configured(make_ctx: Any) -> None:
    flow = compile_flow(caller({"id": "c", "type": "call", "flow": "x"}))
    with pytest.raises(FlowExecutionError, match="no flow resolver"):
        await run_flow(flow, make_ctx())


async def test_depth_limit(make_ctx: Any) -> None:
    recursive = {
        "name": "recursive",
        "nodes": [
            {"id": "again", "type": "call", "flow": "self", "input": "input + 1"},
            {"id": "out", "type": "end", "output": "again"},
        ],
    }
    resolve, calls = resolver_of({("self", None): recursive})
    flow = compile_flow(recursive)
    limits = EngineLimits(max_call_depth=3)
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(
            flow, make_ctx(0), limits=limits, services=EngineServices(resolve_flow=resolve)
        )
    assert info.value.error_type == "CallDepthExceeded"
    assert "max_call_depth=3" in info.value.message
    assert len(calls) == 3


async def test_sub_flow_failure_propagates(make_ctx: Any) -> None:
    failing = {"name": "f", "nodes": [{"id": "boom", "type": "fail", "messageText": "inner"}]}
    resolve, _ = resolver_of({("failing", None): failing})
    flow = compile_flow(caller({"id": "c", "type": "call", "flow": "failing"}))
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx(), services=EngineServices(resolve_flow=resolve))
    assert info.value.message == "inner"
    assert info.value.node_id == "boom"


async def test_cancellation_inside_sub_flow(make_ctx: Any) -> None:
    sleepy = {"name": "s", "nodes": [{"id": "w", "type": "wait", "seconds": 30}]}
    resolve, _ = resolver_of({("sleepy", None): sleepy})
    flow = compile_flow(caller({"id": "c", "type": "call", "flow": "sleepy"}))
    ctx = make_ctx()
    task = asyncio.create_task(run_flow(flow, ctx, services=EngineServices(resolve_flow=resolve)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ctx.is_canceled()


def test_call_validation() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            caller(
                {"id": "a", "type": "call", "flow": ""},
                {"id": "b", "type": "call", "flow": "x", "version": 0},
                {"id": "c", "type": "call", "flow": "x", "input": "1 +"},
                {"id": "d", "type": "call", "flow": "x", "version": "2"},
            )
        )
    text = "\n".join(info.value.problems)
    assert 'nodes[0] (id "a"): flow' in text
    assert 'nodes[1] (id "b"): version' in text
    assert "input: invalid JSONata" in text
    assert 'nodes[3] (id "d"): version' in text


def test_called_flows_walks_nested_nodes() -> None:
    flow = compile_flow(
        caller(
            {"id": "a", "type": "call", "flow": "first", "version": 1},
            {
                "id": "s",
                "type": "switch",
                "cases": [
                    {
                        "when": "input.x",
                        "nodes": [{"id": "b", "type": "call", "flow": "second"}],
                    }
                ],
                "default": [
                    {
                        "id": "loop",
                        "type": "foreach",
                        "items": "input.items",
                        "nodes": [
                            {"id": "c", "type": "call", "flow": "third", "version": 7},
                            {"id": "d", "type": "call", "flow": "first", "version": 1},
                        ],
                    }
                ],
            },
        )
    )
    assert called_flows(flow) == [("first", 1), ("second", None), ("third", 7)]
    assert called_flows(compile_flow(DOUBLER)) == []
