"""Running a compiled flow."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from flowjobs.engine.compiler import Flow
from flowjobs.engine.context import RunContext
from flowjobs.engine.handlers import Handler, call_handler
from flowjobs.engine.limits import EngineLimits
from flowjobs.engine.services import EngineServices
from flowjobs.engine.state import RunState
from flowjobs.errors import FlowExecutionError


async def run_flow(
    flow: Flow,
    ctx: RunContext,
    *,
    limits: EngineLimits | None = None,
    services: EngineServices | None = None,
) -> Any:
    """Run ``flow`` and return its output.

    Raises :class:`FlowExecutionError` on failure; any other exception from a
    node or handler is wrapped into one (``error_type`` = the exception's class
    name). ``asyncio.CancelledError`` propagates unchanged, after the context
    is marked canceled so that a sync handler's thread can notice it. ``limits``
    default to those the flow was compiled with. The flow's ``timeout_seconds``
    is not enforced here; the caller wraps this call in its own deadline.
    An output larger than ``limits.max_output_bytes`` (as JSON) fails the run
    with ``error_type`` ``LimitExceeded``. Node runs are recorded in
    ``ctx.trace``.
    """
    ctx.bind_loop(asyncio.get_running_loop())
    limits = limits or flow.limits
    try:
        ctx.raise_if_canceled()
        if flow.handler is not None:
            output = await _run_handler(flow.handler, flow.handler_ref or "", ctx)
        else:
            state = RunState(ctx=ctx, limits=limits, services=services or EngineServices())
            await state.run_nodes(flow.nodes, top_level=True)
            output = state.output if state.finished else dict(state.vars)
    except asyncio.CancelledError:
        ctx.cancel()
        raise
    _check_output_size(output, limits)
    return output


def _check_output_size(output: Any, limits: EngineLimits) -> None:
    try:
        size = len(json.dumps(output, default=str).encode("utf-8"))
    except ValueError:  # circular; the caller's own serialisation will report it
        return
    if size > limits.max_output_bytes:
        raise FlowExecutionError(
            f"the flow's output is {size} bytes, over the limit of "
            f"{limits.max_output_bytes} bytes (max_output_bytes)",
            error_type="LimitExceeded",
        )


async def _run_handler(handler: Handler, reference: str, ctx: RunContext) -> Any:
    handle = ctx.trace.start(reference, "handler", "handler")
    try:
        output = await call_handler(handler, ctx)
    except FlowExecutionError as exc:
        ctx.trace.finish(handle, "error", error=_handler_error(exc))
        raise
    except Exception as exc:
        detail = str(exc) or type(exc).__name__
        error = FlowExecutionError(
            f"handler {reference} failed: {detail}", error_type=type(exc).__name__
        )
        ctx.trace.finish(handle, "error", error=_handler_error(error))
        raise error from exc
    ctx.trace.finish(handle, "ok", output)
    ctx.progress(1.0, None)
    return output


def _handler_error(error: FlowExecutionError) -> dict[str, Any]:
    return {"message": error.message, "nodeId": error.node_id, "type": error.error_type}
