"""The node base class and the compile-time interface nodes use."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, PrivateAttr

from flowjobs.engine.expressions import Expression

if TYPE_CHECKING:
    from flowjobs.engine.state import RunState

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CompileContext(Protocol):
    """What a node may use while it is being compiled (see ``engine.compiler``)."""

    def problem(self, node: Node, message: str) -> None:
        """Record a validation problem about ``node``."""

    def expression(self, node: Node, field_name: str, source: Any) -> Expression | None:
        """Parse ``source`` as the JSONata expression of ``field_name``.

        Returns ``None`` (and records a problem) if it is not a valid expression.
        """

    def parse_nodes(self, raw: Any, location: str) -> list[Node]:
        """Validate and compile a nested node list found at ``location``."""


class Node(BaseModel):
    """One step of a flow.

    Subclasses set :attr:`node_type`, declare their fields, parse their
    expressions in :meth:`compile`, and do their work in :meth:`run`; the value
    ``run`` returns becomes visible to later expressions under the node's id.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    node_type: ClassVar[str]

    id: str
    type: str
    name: str | None = None
    description: str | None = None

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
