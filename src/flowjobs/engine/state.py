"""The mutable state of one node-based flow run, and the node-list runner."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowjobs.engine.context import RunContext
from flowjobs.engine.expressions import Expression, ExpressionRuntimeError
from flowjobs.engine.limits import EngineLimits
from flowjobs.engine.services import EngineServices
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from flowjobs.engine.nodes.base import Node

_MAX_SOURCE_IN_MESSAGE = 200


@dataclass
class RunState:
    """Variables, node results and the end signal of a running flow.

    Nodes read and change it; container nodes (added later) run their nested
    node lists with :meth:`run_nodes` and stop as soon as :attr:`finished` is set.
    """

    ctx: RunContext
    limits: EngineLimits
    services: EngineServices = field(default_factory=EngineServices)
    vars: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    finished: bool = False
    output: Any = None

    def finish(self, output: Any) -> None:
        """End the flow with ``output`` (used by the ``end`` node)."""
        self.finished = True
        self.output = output

    def scope(self) -> dict[str, Any]:
        """What expressions see: earlier node results by id, then input, vars and job."""
        return {
            **self.results,
            "input": self.ctx.input,
            "vars": self.vars,
            "job": self.ctx.job.as_scope(),
        }

    def evaluate(self, node: Node, field_name: str, expression: Expression) -> Any:
        """Evaluate ``expression`` for ``node``'s ``field_name`` within the limits."""
        try:
            return expression.evaluate(self.scope(), self.limits)
        except ExpressionRuntimeError as exc:
            source = expression.source
            if len(source) > _MAX_SOURCE_IN_MESSAGE:
                source = source[:_MAX_SOURCE_IN_MESSAGE] + "..."
            raise FlowExecutionError(
                f'node "{node.id}": the expression in {field_name} failed: {exc} '
                f"(expression: {source})",
                node_id=node.id,
                error_type="ExpressionError",
            ) from exc

    async def run_nodes(self, nodes: Sequence[Node], *, top_level: bool = False) -> None:
        """Run ``nodes`` in order until they run out or the flow ends."""
        total = len(nodes)
        for index, node in enumerate(nodes):
            self.ctx.raise_if_canceled()
            await self.run_node(node)
            if top_level:
                fraction = 1.0 if self.finished else (index + 1) / total
                self.ctx.progress(fraction, f'node "{node.id}" done')
            if self.finished:
                return

    async def run_node(self, node: Node) -> Any:
        """Run one node, record its result under its id, and log start and end."""
        self.ctx.log(f'node "{node.id}" started', nodeId=node.id, type=node.type)
        started = time.monotonic()
        try:
            result = await node.run(self)
        except Exception as exc:
            error = _as_execution_error(node, exc)
            self.ctx.log(
                f'node "{node.id}" failed: {error.message}',
                nodeId=node.id,
                type=node.type,
                errorType=error.error_type,
            )
            if error is exc:
                raise
            raise error from exc
        self.results[node.id] = result
        duration_ms = round((time.monotonic() - started) * 1000, 3)
        self.ctx.log(
            f'node "{node.id}" finished',
            nodeId=node.id,
            type=node.type,
            durationMs=duration_ms,
        )
        return result


def _as_execution_error(node: Node, exc: Exception) -> FlowExecutionError:
    if isinstance(exc, FlowExecutionError):
        return exc
    detail = str(exc) or type(exc).__name__
    return FlowExecutionError(
        f'node "{node.id}" ({node.type}) failed: {detail}',
        node_id=node.id,
        error_type=type(exc).__name__,
    )
