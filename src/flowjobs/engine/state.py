"""The mutable state of one node-based flow run, and the node-list runner."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowjobs.engine.context import RunContext
from flowjobs.engine.expressions import Expression, ExpressionLimitError, ExpressionRuntimeError
from flowjobs.engine.limits import EngineLimits
from flowjobs.engine.services import EngineServices
from flowjobs.engine.sizes import (
    LiveData,
    ResultSizes,
    approximate_size,
    job_data_too_large,
    variable_too_large,
)
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from flowjobs.engine.nodes.base import Node

_MAX_SOURCE_IN_MESSAGE = 200
_CANCEL_CHECK_SECONDS = 0.25
MAX_JUMPS = 1000  # onError gotos per run of one node list


@dataclass
class RunEnding:
    """The end signal, shared by a run's state and all its child states."""

    finished: bool = False
    output: Any = None


@dataclass
class RunState:
    """Variables, node results and the end signal of a running flow.

    Nodes read and change it; container nodes run their nested node lists in a
    :meth:`child` state with :meth:`run_nodes`, which stops as soon as
    :attr:`finished` is set. ``path`` locates the node list this state runs
    (``nodes``, ``nodes[1].cases[0].nodes``, ``nodes[2].foreach[5].nodes``);
    ``node_path`` is the path of the node it is running now, and
    ``last_result`` the result of the node it ran last.
    """

    ctx: RunContext
    limits: EngineLimits
    services: EngineServices = field(default_factory=EngineServices)
    vars: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    path: str = "nodes"
    node_path: str = ""
    last_result: Any = None
    ending: RunEnding = field(default_factory=RunEnding, repr=False)
    live: LiveData = field(default_factory=LiveData, repr=False)
    result_sizes: ResultSizes = field(default_factory=ResultSizes, repr=False)

    @property
    def finished(self) -> bool:
        return self.ending.finished

    @property
    def output(self) -> Any:
        return self.ending.output

    def finish(self, output: Any) -> None:
        """End the flow with ``output`` (used by the ``end`` node); the first end wins."""
        if not self.ending.finished:
            self.ending.output = output
            self.ending.finished = True

    def child(self, path: str, *, isolated: bool = False) -> RunState:
        """A state for the nested node list at ``path``.

        It shares the variables and the end signal. Its results are this
        state's own dict, or with ``isolated`` a copy of it (for a loop
        iteration, so that parallel iterations do not see each other's results).
        """
        return RunState(
            ctx=self.ctx,
            limits=self.limits,
            services=self.services,
            vars=self.vars,
            results=dict(self.results) if isolated else self.results,
            path=path,
            ending=self.ending,
            live=self.live,
            result_sizes=self.result_sizes.copy() if isolated else self.result_sizes,
        )

    async def sleep(self, seconds: float) -> None:
        """Sleep, noticing RunContext.cancel() within a quarter second even when
        nobody cancels the asyncio task (a task cancel interrupts it at once)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            self.ctx.raise_if_canceled()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, _CANCEL_CHECK_SECONDS))

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
            code = exc.code if isinstance(exc, ExpressionLimitError) else "ExpressionError"
            source = expression.source
            if len(source) > _MAX_SOURCE_IN_MESSAGE:
                source = source[:_MAX_SOURCE_IN_MESSAGE] + "..."
            raise FlowExecutionError(
                f'node "{node.id}": the expression in {field_name} failed: {exc} '
                f"(expression: {source})",
                node_id=node.id,
                error_type=code,
            ) from exc

    def set_var(self, node: Node, name: str, value: Any) -> None:
        """Set a flow variable, within ``max_variable_bytes`` and ``max_job_data_bytes``."""
        limit = self.limits.max_variable_bytes
        size = approximate_size(value, limit)
        if size > limit:
            raise variable_too_large(node.id, name, size, limit)
        self.live.set_variable(self.vars, name, size)
        self.vars[name] = value
        self._check_live_data(node)

    def _keep_result(self, node: Node, result: Any) -> None:
        """Record a node's result, within ``max_job_data_bytes``."""
        self.result_sizes.set(node.id, approximate_size(result, self.limits.max_job_data_bytes))
        self.results[node.id] = result
        self._check_live_data(node)

    def _check_live_data(self, node: Node) -> None:
        total = self.live.total + self.result_sizes.total
        if total > self.limits.max_job_data_bytes:
            raise job_data_too_large(node.id, total, self.limits.max_job_data_bytes)

    async def run_nodes(self, nodes: Sequence[Node], *, top_level: bool = False) -> None:
        """Run ``nodes`` in order (following onError jumps) until they run out
        or the flow ends."""
        positions = {node.id: index for index, node in enumerate(nodes)}
        index = jumps = 0
        while index < len(nodes) and not self.finished:
            self.ctx.raise_if_canceled()
            node = nodes[index]
            target = await self._run_step(node, f"{self.path}[{index}]")
            # Expressions run on the event loop: let other jobs and the API
            # in between nodes, so that a long loop never starves them.
            await asyncio.sleep(0)
            if top_level:
                fraction = 1.0 if self.finished else (index + 1) / len(nodes)
                self.ctx.progress(fraction, f'node "{node.id}" done')
            if target is None:
                index += 1
                continue
            jumps += 1
            _check_jump(node, target, jumps, positions)
            index = positions[target]

    async def run_node(self, node: Node, *, path: str | None = None) -> Any:
        """Run one node (with its timeout, trace entry and onError handling),
        record its result under its id and return it (null if an error was
        caught). onError jumps are only followed by :meth:`run_nodes`."""
        await self._run_step(node, path or f"{self.path}[{node.id}]")
        return self.last_result

    async def _run_step(self, node: Node, path: str) -> str | None:
        """Run ``node``; returns the id of the node to jump to, if any."""
        handle = self.ctx.trace.start(node.id, node.type, path)
        self.node_path = path
        try:
            result = await _run_with_timeout(node, self)
        except Exception as exc:
            error = _as_execution_error(node, exc)
            if node.on_error is None or _is_limit(error):
                self.ctx.trace.finish(handle, "error", error=error_record(node, error))
                if error is exc:
                    raise
                raise error from exc
            self.ctx.trace.finish(handle, "caught", error=error_record(node, error))
            return self._caught(node, error)
        try:
            self._keep_result(node, result)
        except FlowExecutionError as error:  # a limit: never caught by onError
            self.ctx.trace.finish(handle, "error", error=error_record(node, error))
            raise
        self.last_result = result
        self.ctx.trace.finish(handle, "ok", result)
        return None

    def _caught(self, node: Node, error: FlowExecutionError) -> str | None:
        assert node.on_error is not None
        if node.on_error.as_ is not None:
            self.set_var(node, node.on_error.as_, error_record(node, error))
        self.results[node.id] = None
        self.last_result = None
        return node.on_error.target


def error_record(node: Node, error: FlowExecutionError) -> dict[str, Any]:
    """The JSON form of a node failure: ``{"message", "nodeId", "type"}``."""
    return {"message": error.message, "nodeId": error.node_id or node.id, "type": error.error_type}


async def _run_with_timeout(node: Node, state: RunState) -> Any:
    if node.timeout is None:
        return await node.run(state)
    scope = asyncio.timeout(node.timeout)
    try:
        async with scope:
            return await node.run(state)
    except TimeoutError as exc:
        if not scope.expired():
            raise
        raise FlowExecutionError(
            f'node "{node.id}" timed out after {node.timeout:g} seconds (its timeout)',
            node_id=node.id,
            error_type="NodeTimeout",
        ) from exc


def _check_jump(node: Node, target: str, jumps: int, positions: Mapping[str, int]) -> None:
    if target not in positions:  # the compiler checks this; be safe anyway
        raise FlowExecutionError(
            f'node "{node.id}": onError.goto names "{target}", which is not in its node list',
            node_id=node.id,
        )
    if jumps > MAX_JUMPS:
        raise FlowExecutionError(
            f'node "{node.id}": more than {MAX_JUMPS} onError jumps in one run of its node '
            "list; stopping what looks like an endless loop",
            node_id=node.id,
            error_type="LimitExceeded",
        )


def _is_limit(error: FlowExecutionError) -> bool:
    """A memory limit fails the job whatever the flow's onError says: a flow
    that caught it could go on growing what it holds."""
    return error.error_type.startswith("LIMIT_")


def _as_execution_error(node: Node, exc: Exception) -> FlowExecutionError:
    if isinstance(exc, FlowExecutionError):
        return exc
    detail = str(exc) or type(exc).__name__
    return FlowExecutionError(
        f'node "{node.id}" ({node.type}) failed: {detail}',
        node_id=node.id,
        error_type=type(exc).__name__,
    )
