"""Node types and the registry that maps a document's ``type`` to a node class.

To add a node type, write a module with a :class:`Node` subclass and list it in
:data:`NODE_TYPES` (or call :func:`register_node`).
"""

from __future__ import annotations

from flowjobs.engine.nodes.assign import AssignNode
from flowjobs.engine.nodes.base import CompileContext, Node, iter_nodes
from flowjobs.engine.nodes.call import CallNode
from flowjobs.engine.nodes.decision_table import DecisionTableNode
from flowjobs.engine.nodes.declare import DeclareNode
from flowjobs.engine.nodes.end import EndNode
from flowjobs.engine.nodes.fail import FailNode
from flowjobs.engine.nodes.foreach import ForeachNode
from flowjobs.engine.nodes.log import LogNode
from flowjobs.engine.nodes.rest import RestNode
from flowjobs.engine.nodes.rule import RuleNode
from flowjobs.engine.nodes.sql import SqlNode
from flowjobs.engine.nodes.switch import SwitchNode
from flowjobs.engine.nodes.wait import WaitNode

NODE_TYPES: dict[str, type[Node]] = {
    cls.node_type: cls for cls in (AssignNode, WaitNode, FailNode, EndNode)
}
NODE_TYPES.update(
    (cls.node_type, cls)
    for cls in (SwitchNode, ForeachNode, DeclareNode, LogNode, DecisionTableNode)
)
NODE_TYPES.update((cls.node_type, cls) for cls in (RestNode, SqlNode, CallNode, RuleNode))


def register_node(cls: type[Node]) -> type[Node]:
    """Add a node class to the registry (usable as a class decorator)."""
    NODE_TYPES[cls.node_type] = cls
    return cls


__all__ = [
    "NODE_TYPES",
    "AssignNode",
    "CallNode",
    "CompileContext",
    "DecisionTableNode",
    "DeclareNode",
    "EndNode",
    "FailNode",
    "ForeachNode",
    "LogNode",
    "Node",
    "RestNode",
    "RuleNode",
    "SqlNode",
    "SwitchNode",
    "WaitNode",
    "iter_nodes",
    "register_node",
]
