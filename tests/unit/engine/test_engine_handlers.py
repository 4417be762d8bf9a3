"""Handler flows: prefix checks, sync/async handlers, errors and cancellation."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import engine_sample_handlers
import pytest
from engine_testkit import Recorder

from flowjobs.engine import RunContext, compile_flow, run_flow
from flowjobs.engine.handlers import module_allowed
from flowjobs.errors import FlowExecutionError, FlowValidationError

PREFIXES = ["engine_sample_handlers"]


def handler_flow(reference: str) -> dict[str, Any]:
    return {"name": "handler flow", "handler": reference}


def handler_problems(reference: Any, prefixes: list[str]) -> list[str]:
    with pytest.raises(FlowValidationError) as info:
        compile_flow(handler_flow(reference), handler_prefixes=prefixes)
    return info.value.problems


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("myflows", True),
        ("myflows.x", True),
        ("myflows.x.y", True),
        ("myflowsevil", False),
        ("evil.myflows", False),
        ("os", False),
    ],
)
def test_module_allowed(module: str, allowed: bool) -> None:
    assert module_allowed(module, ["myflows"]) is allowed
    assert module_allowed(module, ["myflows."]) is allowed


def test_empty_prefix_allows_nothing() -> None:
    assert not module_allowed("os", ["", "  "])


def test_handler_outside_prefixes_is_rejected() -> None:
    problems = handler_problems("os:getcwd", PREFIXES)
    assert len(problems) == 1
    assert "module 'os' is not allowed" in problems[0]
    lookalike = handler_problems("engine_sample_handlersevil:f", PREFIXES)
    assert "is not allowed" in lookalike[0]


def test_no_prefixes_means_no_handlers() -> None:
    problems = handler_problems("engine_sample_handlers:async_echo", [])
    assert "none configured" in problems[0]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("engine_sample_handlers", "is not of the form"),
        ("engine_sample_handlers:", "is not of the form"),
        ("engine_sample_handlers:missing", "has no attribute 'missing'"),
        ("engine_sample_handlers:NOT_CALLABLE", "is not callable"),
        ("engine_sample_handlers.nope:f", "cannot import module"),
    ],
)
def test_bad_handler_references(reference: str, expected: str) -> None:
    problems = handler_problems(reference, PREFIXES)
    assert len(problems) == 1
    assert expected in problems[0]


def test_handler_must_be_a_string() -> None:
    assert handler_problems(5, PREFIXES) == ["handler: Input should be a valid string"]


async def test_async_handler(make_ctx: Any) -> None:
    flow = compile_flow(
        handler_flow("engine_sample_handlers:async_echo"), handler_prefixes=PREFIXES
    )
    assert flow.handler_ref == "engine_sample_handlers:async_echo"
    output = await run_flow(flow, make_ctx({"a": 1}))
    assert output == {"echo": {"a": 1}, "jobId": "job-1", "mode": "async"}


async def test_sync_handler_runs_in_a_thread(make_ctx: Any) -> None:
    flow = compile_flow(handler_flow("engine_sample_handlers:sync_echo"), handler_prefixes=PREFIXES)
    output = await run_flow(flow, make_ctx([1, 2]))
    assert output["echo"] == [1, 2]
    assert output["mode"] == "sync"
    assert output["thread"] != threading.get_ident()


async def test_handler_log_and_progress_reach_the_loop_thread(
    make_ctx: Any, recorder: Recorder
) -> None:
    flow = compile_flow(handler_flow("engine_sample_handlers:reporting"), handler_prefixes=PREFIXES)
    assert await run_flow(flow, make_ctx()) == "reported"
    assert ("halfway there", {"step": 1}) in recorder.logs
    assert recorder.progress == [(0.5, "half"), (1.0, None), (1.0, None)]
    assert recorder.threads == {threading.get_ident()}


async def test_handler_exception_is_wrapped(make_ctx: Any) -> None:
    flow = compile_flow(handler_flow("engine_sample_handlers:failing"), handler_prefixes=PREFIXES)
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx())
    assert info.value.error_type == "ValueError"
    assert "bad input value" in info.value.message
    assert isinstance(info.value.__cause__, ValueError)


async def test_handler_flow_execution_error_passes_through(make_ctx: Any) -> None:
    flow = compile_flow(
        handler_flow("engine_sample_handlers:failing_flow_error"), handler_prefixes=PREFIXES
    )
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx())
    assert (info.value.message, info.value.node_id, info.value.error_type) == (
        "custom failure",
        "step-9",
        "Custom",
    )


async def test_cancel_reaches_sync_handler(make_ctx: Any, recorder: Recorder) -> None:
    engine_sample_handlers.saw_cancel.clear()
    flow = compile_flow(
        handler_flow("engine_sample_handlers:wait_for_cancel"), handler_prefixes=PREFIXES
    )
    ctx: RunContext = make_ctx()
    task = asyncio.create_task(run_flow(flow, ctx))
    while "waiting for cancel" not in recorder.messages():
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ctx.is_canceled()
    assert await asyncio.to_thread(engine_sample_handlers.saw_cancel.wait, 10)
