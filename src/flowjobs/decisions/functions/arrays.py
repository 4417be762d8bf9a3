"""The array function family of DecisionRules.

ARRAY_PICK, ARRAY_MAP, ARRAY_REDUCE, ARRAY_FILTER, ARRAY_INCLUDES,
ARRAY_FLATTEN, and the deprecated ARRAY_AND, ARRAY_OR, ARRAY_SUM,
ARRAY_CONCAT, ARRAY_CONCAT_WS (each with an optional JSON path into the items).
ARRAY_MAP, ARRAY_REDUCE and ARRAY_FILTER take a custom function: an expression
of names bound to the items (``ARRAY_MAP({INPUT}, "x", SUM({x},1))``), so they
are lazy and evaluate that expression once per item themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowjobs.decisions.functions.common import (
    MAX_RESULT_ITEMS,
    FunctionError,
    check_text_size,
    number_arg,
    number_result,
)
from flowjobs.decisions.functions.data import path_of, pick
from flowjobs.decisions.functions.registry import register
from flowjobs.decisions.values import is_number, to_bool, to_number, to_text

if TYPE_CHECKING:
    from flowjobs.decisions.ast import Node
    from flowjobs.decisions.evaluator import Evaluator
    from flowjobs.decisions.scope import Scope


def array_arg(value: Any, function: str) -> list[Any]:
    """``value`` if it is an array, else FunctionError (DecisionRules' "invalid")."""
    if not isinstance(value, list):
        raise FunctionError(f"{function}: {to_text(value)!r} is not an array")
    if len(value) > MAX_RESULT_ITEMS:
        raise FunctionError(f"{function}: the array has more than {MAX_RESULT_ITEMS} items")
    return value


def _items(value: Any, path: tuple[Any, ...], function: str) -> list[Any]:
    """The array's items, or the values at the optional path inside each of them."""
    items = array_arg(value, function)
    if not path:
        return items
    steps = path_of(path[0])
    return [pick(item, steps) for item in items]


@register("ARRAY_PICK", 2)
def array_pick(value: Any, path: Any) -> list[Any]:
    """The value at a JSON path inside every item."""
    return _items(value, (path,), "ARRAY_PICK")


# --- custom functions -----------------------------------------------------------------------


def _name(evaluator: Evaluator, scope: Scope, node: Node, function: str) -> str:
    """The name a custom function's argument is bound to (``"x"`` in ARRAY_MAP)."""
    name = evaluator.evaluate(node, scope)
    if not isinstance(name, str) or not name.strip():
        raise FunctionError(f"{function}: the argument name must be text, got {to_text(name)!r}")
    return name.strip()


def _custom(
    evaluator: Evaluator, scope: Scope, nodes: tuple[Node, ...], function: str
) -> tuple[list[Any], list[str], Callable[..., Any]]:
    """The array, the argument names and the custom function of ARRAY_MAP and friends."""
    *name_nodes, body = nodes[1:]
    items = array_arg(evaluator.evaluate(nodes[0], scope), function)
    names = [_name(evaluator, scope, node, function) for node in name_nodes]
    return items, names, evaluator.bind(body, scope)


@register("ARRAY_MAP", 3, lazy=True)
def array_map(evaluator: Evaluator, scope: Scope, *nodes: Node) -> list[Any]:
    """The custom function applied to every item."""
    items, (name,), run = _custom(evaluator, scope, nodes, "ARRAY_MAP")
    return [run(**{name: item}) for item in items]


@register("ARRAY_FILTER", 3, lazy=True)
def array_filter(evaluator: Evaluator, scope: Scope, *nodes: Node) -> list[Any]:
    """The items for which the custom function is true."""
    items, (name,), run = _custom(evaluator, scope, nodes, "ARRAY_FILTER")
    return [item for item in items if to_bool(run(**{name: item}))]


@register("ARRAY_REDUCE", 4, lazy=True)
def array_reduce(evaluator: Evaluator, scope: Scope, *nodes: Node) -> Any:
    """The custom function of two arguments folded over the items from the left.

    The first item is the start, as JavaScript's reduce without an initial
    value; an empty array reduces to null.
    """
    items, (first, second), run = _custom(evaluator, scope, nodes, "ARRAY_REDUCE")
    if not items:
        return None
    result = items[0]
    for item in items[1:]:
        result = run(**{first: result, second: item})
    return result


# --- searching and reshaping ----------------------------------------------------------------


def same_value(left: Any, right: Any) -> bool:
    """Deep equality without casting: 5 is 5.0, but not "5" and not true."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same_value, left, right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(same_value(left[k], right[k]) for k in left)
    return type(left) is type(right) and bool(left == right)


@register("ARRAY_INCLUDES", 2)
def array_includes(value: Any, element: Any) -> bool:
    """Whether an item of the array equals ``element`` (objects and arrays compared deeply)."""
    return any(same_value(item, element) for item in array_arg(value, "ARRAY_INCLUDES"))


def _flatten_depth(depth: tuple[Any, ...]) -> float | None:
    """The depth argument: a positive whole number (default: all the way), else None."""
    if not depth:
        return math.inf
    number = to_number(depth[0]) if isinstance(depth[0], str) or is_number(depth[0]) else None
    if number is None or number < 1 or not float(number).is_integer():
        return None
    return number


@register("ARRAY_FLATTEN", 1, 2)
def array_flatten(value: Any, *depth: Any) -> list[Any] | None:
    """Nested arrays opened up to ``depth`` levels; null for a non-array or a bad depth."""
    levels = _flatten_depth(depth)
    if not isinstance(value, list) or levels is None:
        return None
    flat: list[Any] = []
    # An explicit stack of (iterator, level): no recursion, however deep the input nests.
    stack: list[tuple[Any, float]] = [(iter(value), 0)]
    while stack:
        iterator, level = stack[-1]
        item = next(iterator, _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, list) and level < levels:
            stack.append((iter(item), level + 1))
        else:
            flat.append(item)
            if len(flat) > MAX_RESULT_ITEMS:
                raise FunctionError(f"ARRAY_FLATTEN: more than {MAX_RESULT_ITEMS} items")
    return flat


_END = object()


# --- deprecated: use SUM, CONCAT, CONCAT_WS, AND, OR with ARRAY_PICK ----------------------


@register("ARRAY_SUM", 1, 2)
def array_sum(value: Any, *path: Any) -> Any:
    """The sum of the numbers in the array (or at a path inside its items)."""
    numbers = [number_arg(item, "ARRAY_SUM") for item in _items(value, path, "ARRAY_SUM")]
    return number_result(math.fsum(numbers), "ARRAY_SUM")


@register("ARRAY_CONCAT", 1, 2)
def array_concat(value: Any, *path: Any) -> str:
    """The items (or the values at a path inside them) joined as text."""
    texts = [to_text(item) for item in _items(value, path, "ARRAY_CONCAT")]
    return check_text_size("".join(texts), "ARRAY_CONCAT")


@register("ARRAY_CONCAT_WS", 2, 3)
def array_concat_ws(separator: Any, value: Any, *path: Any) -> str:
    """The items (or the values at a path inside them) joined with a separator."""
    texts = [to_text(item) for item in _items(value, path, "ARRAY_CONCAT_WS")]
    return check_text_size(to_text(separator).join(texts), "ARRAY_CONCAT_WS")


@register("ARRAY_AND", 1, 2)
def array_and(value: Any, *path: Any) -> bool:
    """Whether every item (or value at a path inside it) is true."""
    return all(to_bool(item) for item in _items(value, path, "ARRAY_AND"))


@register("ARRAY_OR", 1, 2)
def array_or(value: Any, *path: Any) -> bool:
    """Whether any item (or value at a path inside it) is true."""
    return any(to_bool(item) for item in _items(value, path, "ARRAY_OR"))
