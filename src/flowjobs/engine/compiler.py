"""Validation and compilation of flow documents into :class:`Flow` objects."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowjobs.engine.bounds import size_problems
from flowjobs.engine.expressions import Expression, ExpressionSyntaxError
from flowjobs.engine.handlers import Handler, resolve_handler
from flowjobs.engine.limits import EngineLimits
from flowjobs.engine.nodes import NODE_TYPES
from flowjobs.engine.nodes.base import IDENTIFIER, Node, iter_nodes
from flowjobs.errors import FlowValidationError, OverBudgetError

INTEGRATION_FLOW = "integration-flow"
RESERVED_IDS = frozenset({"input", "vars", "job"})

_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field",
}


@dataclass(frozen=True)
class Flow:
    """A validated flow, ready for :func:`flowjobs.engine.run_flow`.

    Exactly one of :attr:`nodes` and :attr:`handler` is set. :attr:`type` is
    whatever the document says; callers refuse anything but ``integration-flow``.
    """

    name: str
    alias: str | None
    type: str
    description: str | None
    timeout_seconds: float | None
    settings: dict[str, Any]
    document: dict[str, Any]
    nodes: tuple[Node, ...] = field(default=(), repr=False, compare=False)
    handler: Handler | None = field(default=None, repr=False, compare=False)
    handler_ref: str | None = None
    limits: EngineLimits = field(default=EngineLimits(), repr=False)

    def walk_nodes(self) -> Iterator[Node]:
        """Every node of the flow, nested ones included, depth first."""
        return iter_nodes(self.nodes)


class _FlowShape(BaseModel):
    """The top-level fields; unknown fields (rule metadata) are ignored."""

    model_config = ConfigDict(extra="allow", strict=True)

    name: str = Field(min_length=1)
    alias: str | None = None
    type: str = INTEGRATION_FLOW
    description: str | None = None
    settings: dict[str, Any] | None = None
    nodes: list[Any] | None = None
    handler: str | None = None


def format_validation_error(
    prefix: str, error: ValidationError, *, skip: frozenset[str] = frozenset()
) -> list[str]:
    """Readable one-line problems from a pydantic error, each led by ``prefix``.

    Errors about the top-level fields named in ``skip`` are left out.
    """
    problems = []
    for item in error.errors(include_url=False):
        if item["loc"] and str(item["loc"][0]) in skip:
            continue
        where = ".".join(str(part) for part in item["loc"])
        message = _MESSAGES.get(item["type"], item["msg"])
        problems.append(f"{prefix}{where}: {message}" if where else f"{prefix}{message}")
    return problems


class _Compiler:
    """Collects every problem in a document; implements ``CompileContext``."""

    def __init__(
        self,
        limits: EngineLimits,
        sql_connections: Collection[str] | None = None,
        deadline: float | None = None,
    ) -> None:
        self.limits = limits
        self.deadline = deadline  # time.monotonic() by which compiling must end
        # the configured SQL connection names (None: not checked); read by sql nodes
        self.sql_connections = sql_connections
        self.problems: list[str] = []
        self.node_count = 0  # nodes seen in every list, nested ones included
        self._seen_ids: dict[str, str] = {}

    # -- CompileContext ---------------------------------------------------------

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(f"{node.location}: {message}")

    def expression(self, node: Node, field_name: str, source: Any) -> Expression | None:
        if not isinstance(source, str):
            self.problem(node, f"{field_name}: must be a JSONata expression string")
            return None
        self._check_deadline()
        try:
            return Expression(source)
        except ExpressionSyntaxError as exc:
            self.problem(node, f"{field_name}: invalid JSONata expression {source!r}: {exc}")
            return None

    def _check_deadline(self) -> None:
        """Parsing JSONata is slow (about 13 us a character): a large document
        may take many seconds, so a caller may bound it (checked before each
        expression, each at most max_string_length characters)."""
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OverBudgetError(
                "Validating the flow document took longer than its time budget "
                "(FLOWJOBS_DOCUMENT_BUDGET_SECONDS); make it smaller"
            )

    def parse_nodes(self, raw: Any, location: str) -> list[Node]:
        if not isinstance(raw, list):
            self.problems.append(f"{location}: must be a list of nodes")
            return []
        if not raw:
            self.problems.append(f"{location}: must contain at least one node")
            return []
        self.node_count += len(raw)
        nodes = [self._parse_node(item, f"{location}[{index}]") for index, item in enumerate(raw)]
        parsed = [node for node in nodes if node is not None]
        sibling_ids = {item.get("id") for item in raw if isinstance(item, Mapping)}
        for node in parsed:
            self._check_goto(node, sibling_ids)
        return parsed

    def _check_goto(self, node: Node, sibling_ids: set[Any]) -> None:
        target = node.on_error.target if node.on_error is not None else None
        if target is None:
            return
        if target == node.id:
            self.problem(node, "onError.goto: a node cannot jump to itself")
        elif target not in sibling_ids:
            self.problem(
                node, f'onError.goto: unknown node "{target}" (it must be in the same node list)'
            )

    # -- one node ---------------------------------------------------------------

    def _parse_node(self, raw: Any, location: str) -> Node | None:
        if not isinstance(raw, Mapping):
            self.problems.append(f"{location}: a node must be a mapping")
            return None
        node_id = raw.get("id")
        index_location = location
        if node_id is not None:
            location = f'{location} (id "{node_id}")'
        id_ok = self._check_id(node_id, location, index_location)
        node_class = self._node_class(raw.get("type"), location)
        if node_class is None:
            return None
        try:
            node = node_class.model_validate(dict(raw))
        except ValidationError as exc:
            # the id has been checked above
            self.problems.extend(
                format_validation_error(f"{location}: ", exc, skip=frozenset({"id"}))
            )
            return None
        node.set_location(location)
        node.compile(self)
        return node if id_ok else None

    def _check_id(self, node_id: Any, location: str, index_location: str) -> bool:
        if node_id is None:
            self.problems.append(f"{location}: id: required field is missing")
            return False
        if not isinstance(node_id, str) or not IDENTIFIER.match(node_id):
            self.problems.append(
                f"{location}: invalid node id {node_id!r} (must match {IDENTIFIER.pattern})"
            )
            return False
        if node_id in RESERVED_IDS:
            self.problems.append(f'{location}: node id "{node_id}" is reserved')
            return False
        first = self._seen_ids.setdefault(node_id, index_location)
        if first != index_location:
            self.problems.append(f'{location}: duplicate node id "{node_id}" (also at {first})')
            return False
        return True

    def _node_class(self, node_type: Any, location: str) -> type[Node] | None:
        if node_type is None:
            self.problems.append(f"{location}: type: required field is missing")
            return None
        node_class = NODE_TYPES.get(node_type) if isinstance(node_type, str) else None
        if node_class is None:
            known = ", ".join(sorted(NODE_TYPES))
            self.problems.append(
                f'{location}: unknown node type "{node_type}" (known types: {known})'
            )
        return node_class

    # -- the document -----------------------------------------------------------

    def settings(self, raw: Any) -> tuple[dict[str, Any], float | None]:
        if raw is None:
            return {}, None
        if not isinstance(raw, Mapping):
            return {}, None  # reported by the shape check
        settings = dict(raw)
        self._check_retries(settings.get("retryOnWorkerLoss"))
        timeout = settings.get("timeoutSeconds")
        if timeout is None:
            return settings, None
        numeric = isinstance(timeout, int | float) and not isinstance(timeout, bool)
        if not numeric or not math.isfinite(timeout) or timeout <= 0:
            self.problems.append(
                f"settings.timeoutSeconds: must be a positive number, got {timeout!r}"
            )
            return settings, None
        return settings, float(timeout)

    def _check_retries(self, retries: Any) -> None:
        valid = isinstance(retries, int) and not isinstance(retries, bool) and 0 <= retries <= 10
        if retries is not None and not valid:
            self.problems.append(
                f"settings.retryOnWorkerLoss: must be an integer from 0 to 10, got {retries!r}"
            )

    def body(
        self, document: Mapping[str, Any], handler_prefixes: Sequence[str]
    ) -> tuple[list[Node], Handler | None]:
        raw_nodes = document.get("nodes")
        reference = document.get("handler")
        if raw_nodes is not None and reference is not None:
            self.problems.append("a flow has either nodes or a handler, not both")
        elif raw_nodes is None and reference is None:
            self.problems.append("a flow needs either nodes or a handler")
        nodes: list[Node] = []
        if isinstance(raw_nodes, list):  # anything else is reported by the shape check
            nodes = self.parse_nodes(raw_nodes, "nodes")
        if self.node_count > self.limits.max_nodes:
            self.problems.append(
                f"the flow has {self.node_count} nodes (nested ones included), over the "
                f"limit of {self.limits.max_nodes} (max_nodes)"
            )
        handler = None
        if isinstance(reference, str):
            handler, problems = resolve_handler(reference, handler_prefixes)
            self.problems.extend(problems)
        return nodes, handler


def compile_flow(
    document: Mapping[str, Any],
    *,
    handler_prefixes: Sequence[str] = (),
    limits: EngineLimits = EngineLimits(),
    sql_connections: Collection[str] | None = None,
    deadline: float | None = None,
) -> Flow:
    """Validate ``document`` and compile it into a :class:`Flow`.

    Raises :class:`FlowValidationError` listing every problem found. ``limits``
    become the flow's default limits for :func:`run_flow`. With
    ``sql_connections``, a ``sql`` node naming any other connection is a problem.
    Past ``deadline`` (a ``time.monotonic()`` value), it stops with
    :class:`OverBudgetError`.
    """
    if not isinstance(document, Mapping):
        raise FlowValidationError(["the flow document must be a mapping"])
    compiler = _Compiler(limits, sql_connections, deadline)
    compiler.problems.extend(size_problems(document, limits))
    shape: _FlowShape | None = None
    try:
        shape = _FlowShape.model_validate(dict(document))
    except ValidationError as exc:
        compiler.problems.extend(format_validation_error("", exc))
    settings, timeout = compiler.settings(document.get("settings"))
    nodes, handler = compiler.body(document, handler_prefixes)
    if compiler.problems or shape is None:
        raise FlowValidationError(compiler.problems)
    return Flow(
        name=shape.name,
        alias=shape.alias,
        type=shape.type,
        description=shape.description,
        timeout_seconds=timeout,
        settings=settings,
        document=copy.deepcopy(dict(document)),
        nodes=tuple(nodes),
        handler=handler,
        handler_ref=shape.handler,
        limits=limits,
    )
