"""Node types and the registry that maps a document's ``type`` to a node class.

To add a node type, write a module with a :class:`Node` subclass and list it in
:data:`NODE_TYPES` (or call :func:`register_node`).
"""

from __future__ import annotations

from flowjobs.engine.nodes.assign import AssignNode
from flowjobs.engine.nodes.base import CompileContext, Node
from flowjobs.engine.nodes.end import EndNode
from flowjobs.engine.nodes.fail import FailNode
from flowjobs.engine.nodes.wait import WaitNode

NODE_TYPES: dict[str, type[Node]] = {
    cls.node_type: cls for cls in (AssignNode, WaitNode, FailNode, EndNode)
}


def register_node(cls: type[Node]) -> type[Node]:
    """Add a node class to the registry (usable as a class decorator)."""
    NODE_TYPES[cls.node_type] = cls
    return cls


__all__ = [
    "NODE_TYPES",
    "AssignNode",
    "CompileContext",
    "EndNode",
    "FailNode",
    "Node",
    "WaitNode",
    "register_node",
]
