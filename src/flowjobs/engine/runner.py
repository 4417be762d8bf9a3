"""Running a compiled flow."""

from __future__ import annotations

import asyncio
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
    """
    ctx.bind_loop(asyncio.get_running_loop())
    try:
        ctx.raise_if_canceled()
        if flow.handler is not None:
            return await _run_handler(flow.handler, flow.handler_ref or "", ctx)
        state = RunState(
            ctx=ctx, limits=limits or flow.limits, services=services or EngineServices()
        )
        await state.run_nodes(flow.nodes, top_level=True)
        return state.output if state.finished else dict(state.vars)
    except asyncio.CancelledError:
        ctx.cancel()
        raise


async def _run_handler(handler: Handler, reference: str, ctx: RunContext) -> Any:
    ctx.log(f"handler {reference} started", handler=reference)
    try:
        output = await call_handler(handler, ctx)
    except FlowExecutionError:
        raise
    except Exception as exc:
        detail = str(exc) or type(exc).__name__
        error_type = type(exc).__name__
        ctx.log(f"handler {reference} failed: {detail}", handler=reference, errorType=error_type)
        raise FlowExecutionError(
            f"handler {reference} failed: {detail}", error_type=error_type
        ) from exc
    ctx.log(f"handler {reference} finished", handler=reference)
    ctx.progress(1.0, None)
    return output
