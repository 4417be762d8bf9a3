"""``call``: run another flow of the same space inline and use its output."""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, PrivateAttr

from flowjobs.engine.context import RunContext
from flowjobs.engine.expressions import Expression
from flowjobs.engine.handlers import call_handler
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.engine.state import RunState
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from flowjobs.engine.compiler import Flow

_INTEGRATION_FLOW = "integration-flow"


class CallNode(Node):
    """``flow``: the called flow's alias or baseId (a literal); ``version``: a
    version number, or absent for the latest published one; ``input``: an
    expression giving the called flow's input (null if absent).

    The called flow runs inline: its own variables and node results, the same
    job, cancellation, log and services, one level deeper. Its output (its
    variables if it has no ``end``) is this node's result."""

    node_type: ClassVar[str] = "call"

    flow: str = Field(min_length=1)
    version: int | None = Field(default=None, ge=1)
    input: Any = None

    _input: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        if self.input is not None:
            self._input = ctx.expression(self, "input", self.input)

    async def run(self, state: RunState) -> Any:
        resolver = state.services.resolve_flow
        if resolver is None:
            raise self._fail("no flow resolver is configured, flows cannot call flows")
        depth = state.services.call_depth + 1
        limit = state.limits.max_call_depth
        if depth > limit:
            raise self._fail(
                f'calling "{self.flow}" would nest flows {depth} deep, more than the limit '
                f"max_call_depth={limit}",
                "CallDepthExceeded",
            )
        value = None if self._input is None else state.evaluate(self, "input", self._input)
        try:
            flow = await resolver(self.flow, self.version)
        except FlowExecutionError as exc:
            if exc.node_id is not None:
                raise
            raise self._fail(exc.message, exc.error_type) from exc
        if flow.type != _INTEGRATION_FLOW:
            raise self._fail(f'"{self.flow}" is a {flow.type}, not an integration flow')
        state.ctx.log(
            f'node "{self.id}" calls flow "{self.flow}" version {self.version or "latest"}',
            nodeId=self.id,
            flow=self.flow,
            version=self.version,
            callDepth=depth,
        )
        return await _run_called(flow, state, _called_context(state.ctx, value), depth)

    def _fail(self, message: str, error_type: str = "CallError") -> FlowExecutionError:
        return FlowExecutionError(
            f'node "{self.id}": {message}', node_id=self.id, error_type=error_type
        )


def _called_context(parent: RunContext, input_value: Any) -> RunContext:
    """The parent's context (same job, cancel flag, log and trace) with another
    input and no progress or loop reports (those are the calling flow's)."""
    child = copy.copy(parent)
    child.input = input_value
    child._on_progress = None
    child._on_items = None
    return child


async def _run_called(flow: Flow, state: RunState, ctx: RunContext, depth: int) -> Any:
    if flow.handler is not None:
        return await call_handler(flow.handler, ctx)
    child = RunState(
        ctx=ctx,
        limits=state.limits,
        services=dataclasses.replace(state.services, call_depth=depth),
        path=f"{state.node_path or state.path}.nodes",
        live=state.live,  # the called flow's data counts against the job's cap
    )
    try:
        await child.run_nodes(flow.nodes)
    finally:
        state.live.forget(child.vars)
    return child.output if child.finished else dict(child.vars)
