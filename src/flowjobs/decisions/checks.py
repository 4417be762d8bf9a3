"""Static checks of parsed expressions: unknown functions and wrong argument counts."""

from __future__ import annotations

from collections.abc import Iterator

from flowjobs.decisions.ast import ArrayNode, Call, Node, ObjectNode, Ref, Template
from flowjobs.decisions.functions.registry import FUNCTIONS
from flowjobs.decisions.parser import parse_expression
from flowjobs.decisions.problems import ExpressionError


def walk_nodes(node: Node) -> Iterator[Node]:
    """``node`` and every node inside it (iteratively: a deep tree cannot exhaust the stack)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Call):
            stack.extend(current.args)
        elif isinstance(current, ArrayNode):
            stack.extend(current.items)
        elif isinstance(current, ObjectNode):
            for key, value in current.items:
                stack.extend((key, value))
        elif isinstance(current, Template):
            stack.extend(part for part in current.parts if isinstance(part, Ref))


def node_problems(node: Node) -> list[str]:
    """What is wrong with the calls in ``node``: unknown functions, bad argument counts."""
    problems: list[str] = []
    for current in walk_nodes(node):
        if not isinstance(current, Call):
            continue
        spec = FUNCTIONS.get(current.name)
        if spec is None:
            problems.append(f"unknown function {current.name}")
            continue
        count_problem = spec.check_count(len(current.args))
        if count_problem:
            problems.append(count_problem)
    return problems


def references(node: Node) -> list[Ref]:
    """Every ``{reference}`` in ``node``."""
    return [n for n in walk_nodes(node) if isinstance(n, Ref)]


def validate_expression(text: str) -> list[str]:
    """Every problem of the expression ``text``; [] when it parses and its calls fit."""
    try:
        node = parse_expression(text)
    except ExpressionError as error:
        return [error.message]
    return node_problems(node)
