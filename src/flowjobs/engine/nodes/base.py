"""The node base class and the compile-time interface nodes use."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from flowjobs.engine.expressions import Expression
from flowjobs.engine.limits import EngineLimits

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# onError.goto value that carries on with the next node
CONTINUE = "continue"


class CompileContext(Protocol):
    """What a node may use while it is being compiled (see ``engine.compiler``)."""

    limits: EngineLimits

    def problem(self, node: Node, message: str) -> None:
        """Record a validation problem about ``node``."""

    def expression(self, node: Node, field_name: str, source: Any) -> Expression | None:
        """Parse ``source`` as the JSONata expression of ``field_name``.

        Returns ``None`` (and records a problem) if it is not a valid expression.
        """

    def parse_nodes(self, raw: Any, location: str) -> list[Node]:
        """Validate and compile a nested node list found at ``location``."""


class OnError(BaseModel):
    """``onError``: what to do when a node fails.

    ``goto`` is ``"continue"`` (the default: carry on with the next node) or
    the id of a node in the same node list; ``as`` names a variable that
    receives ``{"message", "nodeId", "type"}`` of the error.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    goto: str = Field(default=CONTINUE, min_length=1)
    as_: str | None = Field(default=None, alias="as", pattern=IDENTIFIER.pattern)

    @property
    def target(self) -> str | None:
        """The node id to jump to, or ``None`` to continue with the next node."""
        return None if self.goto == CONTINUE else self.goto


class Node(BaseModel):
    """One step of a flow.

    Subclasses set :attr:`node_type`, declare their fields, parse their
    expressions in :meth:`compile`, and do their work in :meth:`run`; the value
    ``run`` returns becomes visible to later expressions under the node's id.

    Every node may carry ``onError`` (see :class:`OnError`) and ``timeout``
    (seconds; expiry fails the node with error type ``NodeTimeout``). Nodes
    holding nested node lists return them from :meth:`child_lists`.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    node_type: ClassVar[str]

    id: str
    type: str
    name: str | None = None
    description: str | None = None
    on_error: OnError | None = Field(default=None, alias="onError")
    timeout: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    _location: str = PrivateAttr(default="")

    @property
    def location(self) -> str:
        """Where the node sits in the document, e.g. ``nodes[2] (id "x")``."""
        return self._location or f'node "{self.id}"'

    def set_location(self, location: str) -> None:
        self._location = location

    def compile(self, ctx: CompileContext) -> None:
        """Check what the field types cannot express and parse expressions."""
        return None

    async def run(self, state: RunState) -> Any:
        raise NotImplementedError

    def child_lists(self) -> Sequence[Sequence[Node]]:
        """The compiled nested node lists (none for a simple node)."""
        return ()

    def walk(self) -> Iterator[Node]:
        """This node, then every node nested in it, depth first."""
        yield self
        for nodes in self.child_lists():
            yield from iter_nodes(nodes)


def iter_nodes(nodes: Sequence[Node]) -> Iterator[Node]:
    """Every node of ``nodes`` and, depth first, the nodes nested in them."""
    for node in nodes:
        yield from node.walk()
