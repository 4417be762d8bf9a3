"""SOLVE: a table calls another rule of its space through the caller's callback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flowjobs.decisions.functions.common import FunctionError
from flowjobs.decisions.functions.registry import register
from flowjobs.decisions.options import normalise_strategy
from flowjobs.decisions.problems import SolveDepthError, SolveError
from flowjobs.decisions.scope import walk
from flowjobs.decisions.values import to_text
from flowjobs.errors import FlowjobsError

if TYPE_CHECKING:
    from flowjobs.decisions.ast import Node
    from flowjobs.decisions.evaluator import Evaluator
    from flowjobs.decisions.scope import Scope


@register("SOLVE", 2, 3, lazy=True)
def solve(evaluator: Evaluator, scope: Scope, rule: Node, data: Node, *options: Node) -> Any:
    """The result of solving another rule; ``{}`` when it cannot be found (unknown rule or
    version), as DecisionRules' SOLVE example shows. Nesting past the limit is an error."""
    from flowjobs.decisions.compiler import SOLVE_DEPTH

    context = evaluator.context
    target = to_text(evaluator.evaluate(rule, scope))
    payload = evaluator.evaluate(data, scope)
    settings = evaluator.evaluate(options[0], scope) if options else {}
    if not isinstance(settings, Mapping):
        raise FunctionError("SOLVE: the third argument must be an object")
    if context.solve_rule is None:
        raise SolveError("SOLVE cannot call other rules here")
    if context.depth + 1 > context.max_depth:
        raise SolveDepthError(f"SOLVE calls nest deeper than {context.max_depth} rules")
    version = _version(settings.get("version"))
    strategy = normalise_strategy(_text_or_none(settings.get("strategy")))
    token = SOLVE_DEPTH.set(context.depth + 1)
    try:
        result = context.solve_rule(target, version, payload, strategy)
    except SolveDepthError:
        raise  # too deep (by count or for Python's stack): the whole solve fails
    except FlowjobsError:
        return {}
    finally:
        SOLVE_DEPTH.reset(token)
    path = settings.get("path")
    return pick_path(result, to_text(path)) if path else result


def _version(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        raise FunctionError(f"SOLVE: version {value!r} is not a number") from None


def _text_or_none(value: Any) -> str | None:
    return None if value is None else to_text(value)


def pick_path(result: Any, path: str) -> Any:
    """The value at ``a.b`` in the result; an array result is read from its first element."""
    if isinstance(result, list):
        if not result:
            return None
        result = result[0]
    found = walk(result, tuple(path.split(".")))
    from flowjobs.decisions.scope import is_missing

    return None if is_missing(found) else found
