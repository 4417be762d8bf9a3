"""DecisionRules rule flows (``type: composition``): tables chained by
mappings, solved through the same SOLVE callback a table uses. Pure.

A rule flow's ``dataTree`` is a tree of nodes. The root is ``start`` (the
input); each child names a rule (``baseId``) and a ``globalVariable`` that
holds its result, and its ``mapping`` builds the rule's input from earlier
results (``source`` a global variable, ``sourceVariable`` a dotted path in
it). The node whose ``globalVariable`` is ``end`` builds the output. Tables
in a rule flow are solved with FIRST_MATCH, as DecisionRules documents, and
their first result is what later mappings read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from flowjobs.decisions import SolveContext, SolveDepthError, SolveError, SolveOptions

START = "start"
END = "end"
TABLE_STRATEGY = "FIRST_MATCH"  # DecisionRules: "always called with the First Match strategy"


def flow_nodes(tree: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of the tree below the root, parents before children."""
    stack = list(reversed(_children(tree)))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(_children(node)))


def _children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    children = node.get("children")
    if not isinstance(children, list):
        return []
    return [child for child in children if isinstance(child, Mapping)]


def referenced_rules(document: Mapping[str, Any]) -> set[tuple[str, int | None]]:
    """The rules a rule flow solves: (baseId or alias, version or None)."""
    tree = document.get("dataTree")
    if not isinstance(tree, Mapping):
        return set()
    found: set[tuple[str, int | None]] = set()
    for node in flow_nodes(tree):
        rule = node.get("baseId") or node.get("ruleAlias")
        if isinstance(rule, str) and rule:
            version = node.get("version")
            found.add((rule, version if isinstance(version, int) else None))
    return found


def _read(value: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        if isinstance(value, list):  # a table's result list: its first row's output
            value = value[0] if value else None
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _write(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        inner = target.get(part)
        if not isinstance(inner, dict):
            inner = target[part] = {}
        target = inner
    target[parts[-1]] = value


def _mapped(node: Mapping[str, Any], results: Mapping[str, Any]) -> dict[str, Any]:
    """The object a node's mapping builds from the results so far."""
    built: dict[str, Any] = {}
    mapping = node.get("mapping")
    for entry in mapping if isinstance(mapping, list) else []:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("key"), str):
            continue
        source = results.get(str(entry.get("source", START)))
        _write(built, entry["key"], _read(source, str(entry.get("sourceVariable") or "")))
    return built


class CompiledRuleFlow:
    """A rule flow ready to solve: it has the same ``solve`` as a table's."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        tree = document.get("dataTree")
        if not isinstance(tree, Mapping):
            raise SolveError("the rule flow has no dataTree")
        self.nodes = list(flow_nodes(tree))

    def solve(
        self,
        data: Any,
        *,
        strategy: str = "STANDARD",
        options: SolveOptions | None = None,
        context: SolveContext | None = None,
    ) -> Any:
        """``[output]``: the end node's mapping, as the Solver API answers."""
        results: dict[str, Any] = {START: data}
        for node in self.nodes:
            name = str(node.get("globalVariable", ""))
            if name == END:
                return [_mapped(node, results)]
            results[name] = self._solve_node(node, _mapped(node, results), context)
        return [{}]

    @staticmethod
    def _solve_node(
        node: Mapping[str, Any], rule_input: dict[str, Any], context: SolveContext | None
    ) -> Any:
        rule = node.get("baseId") or node.get("ruleAlias")
        if not isinstance(rule, str) or context is None or context.solve_rule is None:
            return None
        if context.depth >= context.max_depth:
            raise SolveDepthError(f"rules solve rules more than {context.max_depth} deep")
        version = node.get("version")
        number = version if isinstance(version, int) else None
        return context.solve_rule(rule, number, rule_input, TABLE_STRATEGY)
