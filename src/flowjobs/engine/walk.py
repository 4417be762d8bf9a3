"""What a compiled flow refers to outside itself: the flows its ``call`` nodes
call, the rules its ``rule`` nodes solve and the SQL connections its ``sql``
nodes use (nested nodes included), for checks when a flow is pushed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowjobs.engine.nodes.base import iter_nodes
from flowjobs.engine.nodes.call import CallNode
from flowjobs.engine.nodes.rule import RuleNode
from flowjobs.engine.nodes.sql import SqlNode

if TYPE_CHECKING:
    from flowjobs.engine.compiler import Flow


def called_flows(flow: Flow) -> list[tuple[str, int | None]]:
    """The ``(flow, version)`` pairs the flow's ``call`` nodes name, nested ones
    included, in document order without repeats (version None = latest)."""
    pairs = [
        (node.flow, node.version) for node in iter_nodes(flow.nodes) if isinstance(node, CallNode)
    ]
    return list(dict.fromkeys(pairs))


def solved_rules(flow: Flow) -> list[tuple[str, int | None]]:
    """The ``(rule, version)`` pairs the flow's ``rule`` nodes name, nested ones
    included, in document order without repeats (version None = latest)."""
    pairs = [
        (node.rule, node.version) for node in iter_nodes(flow.nodes) if isinstance(node, RuleNode)
    ]
    return list(dict.fromkeys(pairs))


def sql_connections_used(flow: Flow) -> set[str]:
    """The connection names the flow's ``sql`` nodes use, nested ones included."""
    return {node.connection for node in iter_nodes(flow.nodes) if isinstance(node, SqlNode)}
