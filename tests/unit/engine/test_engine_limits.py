"""max_nodes and max_output_bytes (max_foreach_items and max_parallel: see the foreach tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from engine_testkit import flow_of

from flowjobs.engine import EngineLimits, compile_flow, run_flow
from flowjobs.errors import FlowExecutionError, FlowValidationError


def assign(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "type": "assign", "set": {"x": "1"}}


def nested_flow() -> dict[str, Any]:
    return flow_of(
        assign("a"),
        {
            "id": "sw",
            "type": "switch",
            "cases": [{"when": "true", "nodes": [assign("b"), assign("c")]}],
            "default": [assign("d")],
        },
    )  # five nodes, three of them nested


def test_max_nodes_counts_nested_nodes() -> None:
    assert (
        len(list(compile_flow(nested_flow(), limits=EngineLimits(max_nodes=5)).walk_nodes())) == 5
    )
    with pytest.raises(FlowValidationError) as info:
        compile_flow(nested_flow(), limits=EngineLimits(max_nodes=4))
    assert info.value.problems == [
        "the flow has 5 nodes (nested ones included), over the limit of 4 (max_nodes)"
    ]


async def test_max_output_bytes(make_ctx: Any) -> None:
    flow = compile_flow(flow_of({"id": "out", "type": "end", "output": "input"}))
    data = {"text": "x" * 20}
    size = len(json.dumps(data))
    assert await run_flow(flow, make_ctx(data), limits=EngineLimits(max_output_bytes=size)) == data
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx(data), limits=EngineLimits(max_output_bytes=size - 1))
    assert info.value.error_type == "LimitExceeded"
    assert info.value.message == (
        f"the flow's output is {size} bytes, over the limit of {size - 1} bytes (max_output_bytes)"
    )


async def test_max_output_bytes_applies_to_handlers(make_ctx: Any) -> None:
    flow = compile_flow(
        {"name": "h", "handler": "engine_sample_handlers:async_echo"},
        handler_prefixes=["engine_sample_handlers"],
        limits=EngineLimits(max_output_bytes=50),
    )
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx("é" * 30))
    assert "max_output_bytes" in info.value.message
