"""The declare and log nodes."""

from __future__ import annotations

from typing import Any

import pytest
from engine_testkit import Recorder, flow_of

from flowjobs.engine import compile_flow, run_flow
from flowjobs.errors import FlowValidationError


async def test_declare_sets_variables_in_order(make_ctx: Any) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "d", "type": "declare", "vars": {"a": "input.x", "b": "vars.a * 2"}},
            {"id": "out", "type": "end", "output": '{"d": d, "vars": vars}'},
        )
    )
    output = await run_flow(flow, make_ctx({"x": 4}))
    assert output == {"d": {"a": 4, "b": 8}, "vars": {"a": 4, "b": 8}}


def test_declare_validation() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            flow_of(
                {"id": "d", "type": "declare", "vars": {"bad-name": "1", "n": 5}},
                {"id": "e", "type": "declare", "vars": {}},
            )
        )
    problems = info.value.problems
    assert "nodes[0] (id \"d\"): vars: variable name 'bad-name' is not an identifier" in problems
    assert 'nodes[0] (id "d"): vars.n: must be a JSONata expression string' in problems
    assert any(p.startswith('nodes[1] (id "e"): vars:') for p in problems)


async def test_log_reaches_ctx_log(make_ctx: Any, recorder: Recorder) -> None:
    flow = compile_flow(
        flow_of(
            {"id": "hello", "type": "log", "message": '"Hello " & input.name'},
            {"id": "warn", "type": "log", "message": "input", "level": "warning"},
            {"id": "err", "type": "log", "message": "input.missing", "level": "error"},
            {"id": "out", "type": "end", "output": "[hello, warn]"},
        )
    )
    output = await run_flow(flow, make_ctx({"name": "Ann"}))
    assert recorder.logs == [
        ("Hello Ann", {"level": "info", "nodeId": "hello"}),
        ('{"name": "Ann"}', {"level": "warning", "nodeId": "warn"}),
        ("null", {"level": "error", "nodeId": "err"}),
    ]
    assert output == [{"message": "Hello Ann"}, {"message": '{"name": "Ann"}'}]


def test_log_validation() -> None:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(
            flow_of(
                {"id": "a", "type": "log"},
                {"id": "b", "type": "log", "message": "1", "level": "debug"},
                {"id": "c", "type": "log", "message": "1 +"},
            )
        )
    problems = info.value.problems
    assert 'nodes[0] (id "a"): message: required field is missing' in problems
    assert any(p.startswith('nodes[1] (id "b"): level:') for p in problems)
    assert any(p.startswith('nodes[2] (id "c"): message: invalid JSONata') for p in problems)
