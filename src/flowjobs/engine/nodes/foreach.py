"""``foreach``: run a node list once for every item of an array.

Each iteration runs in its own child state: its node results start as a copy
of the results before the loop (so parallel iterations never see each other's
results), while the flow variables are SHARED with the rest of the flow. Variables
assigned by parallel iterations therefore race (the last write wins); use
``collect`` to gather per-item values instead.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.engine.trace import LOOP_MARKER
from flowjobs.errors import FlowExecutionError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flowjobs.engine.state import RunState


class _FlowEnded(Exception):
    """Raised by a loop worker after an ``end`` node, to stop the other iterations."""


class ForeachNode(Node):
    """``items``: an expression giving an array; ``nodes``: the body;
    ``parallel``: how many iterations may run at once (a number or an
    expression, 1 to ``max_parallel``; default 1); ``collect``: an expression
    evaluated at the end of each iteration (default: the result of the body's
    last node that ran). Inside the body, ``<this node's id>.currentItem``,
    ``.index`` and ``.length`` describe the iteration. The result is the array
    of collected values, in input order. An ``end`` node in the body ends the
    whole flow. After each iteration an outermost loop reports
    ``ctx.items(done, total)``.
    """

    node_type: ClassVar[str] = "foreach"

    items: Any
    nodes: Any
    parallel: int | str = 1
    collect: Any = None

    _items: Expression | None = PrivateAttr(default=None)
    _body: list[Node] = PrivateAttr(default_factory=list)
    _parallel: Expression | None = PrivateAttr(default=None)
    _collect: Expression | None = PrivateAttr(default=None)

    def compile(self, ctx: CompileContext) -> None:
        self._items = ctx.expression(self, "items", self.items)
        self._body = ctx.parse_nodes(self.nodes, f"{self.location}.nodes")
        if self.collect is not None:
            self._collect = ctx.expression(self, "collect", self.collect)
        if isinstance(self.parallel, str):
            self._parallel = ctx.expression(self, "parallel", self.parallel)
            return
        problem = _parallel_problem(self.parallel, ctx.limits.max_parallel)
        if problem is not None:
            ctx.problem(self, problem)

    def child_lists(self) -> Sequence[Sequence[Node]]:
        return [self._body]

    @property
    def body(self) -> list[Node]:
        return self._body

    async def run(self, state: RunState) -> list[Any]:
        items = self._evaluate_items(state)
        parallel = self._evaluate_parallel(state)
        return await _Loop(self, state, items).run(parallel)

    def _evaluate_items(self, state: RunState) -> list[Any]:
        assert self._items is not None
        items = state.evaluate(self, "items", self._items)
        if not isinstance(items, list):
            kind = "null" if items is None else type(items).__name__
            raise FlowExecutionError(
                f'node "{self.id}": items must evaluate to an array, got {kind}',
                node_id=self.id,
            )
        limit = state.limits.max_foreach_items
        if len(items) > limit:
            raise FlowExecutionError(
                f'node "{self.id}": {len(items)} items, over the limit of {limit} '
                "iterations (max_foreach_items)",
                node_id=self.id,
                error_type="LimitExceeded",
            )
        return items

    def _evaluate_parallel(self, state: RunState) -> int:
        value: Any = self.parallel
        if self._parallel is not None:
            value = state.evaluate(self, "parallel", self._parallel)
        problem = _parallel_problem(value, state.limits.max_parallel)
        if problem is not None:
            raise FlowExecutionError(f'node "{self.id}": {problem}', node_id=self.id)
        return int(value)

    def iteration_scope(self, item: Any, index: int, length: int) -> dict[str, Any]:
        return {"currentItem": item, "index": index, "length": length}

    async def finish_iteration(self, child: RunState) -> Any:
        if self._collect is None:
            return child.last_result
        return child.evaluate(self, "collect", self._collect)


def _parallel_problem(value: Any, limit: int) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"parallel must be a whole number, got {value!r}"
    if value < 1:
        return f"parallel must be at least 1, got {value}"
    if value > limit:
        return f"parallel {value} is over the limit of {limit} (max_parallel)"
    return None


class _Loop:
    """One run of a foreach: ``parallel`` workers take the items in turn."""

    def __init__(self, node: ForeachNode, state: RunState, items: list[Any]) -> None:
        self.node = node
        self.state = state
        self.items = items
        self.base = state.node_path
        # only the outermost loop reports ctx.items (nested counts would interleave)
        self.reports = LOOP_MARKER not in self.base
        self.collected: list[Any] = [None] * len(items)
        self.next_index = 0
        self.done = 0

    async def run(self, parallel: int) -> list[Any]:
        workers = min(parallel, len(self.items))
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(self._worker())
        except BaseExceptionGroup as errors:
            _reraise(errors)
        # an iteration that noticed a cancel of the context ended its own task only
        self.state.ctx.raise_if_canceled()
        return self.collected

    async def _worker(self) -> None:
        total = len(self.items)
        while self.next_index < total and not self.state.finished:
            index = self.next_index
            self.next_index += 1
            self.collected[index] = await self._iteration(index)
            self.done += 1
            if self.reports:
                self.state.ctx.items(self.done, total)
        if self.state.finished:
            raise _FlowEnded

    async def _iteration(self, index: int) -> Any:
        child = self.state.child(f"{self.base}.foreach[{index}].nodes", isolated=True)
        child.results[self.node.id] = self.node.iteration_scope(
            self.items[index], index, len(self.items)
        )
        await child.run_nodes(self.node.body)
        if child.finished:
            return None
        return await self.node.finish_iteration(child)


def _reraise(errors: BaseExceptionGroup[BaseException]) -> None:
    """Raise the first real error of the loop's workers (an end is not one)."""
    for error in errors.exceptions:
        if not isinstance(error, _FlowEnded):
            raise error
