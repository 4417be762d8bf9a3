"""The text function family (CONCAT, LEN, SUBSTR, TEST, MATCH, REPLACE, SPLIT, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowjobs.decisions.functions.common import (
    MAX_RESULT_ITEMS,
    FunctionError,
    check_text_size,
    number_arg,
    shown,
)
from flowjobs.decisions.functions.registry import register
from flowjobs.decisions.regexes import Regex, compile_pattern, js_replacement
from flowjobs.decisions.values import to_text

if TYPE_CHECKING:
    from flowjobs.decisions.ast import Node
    from flowjobs.decisions.evaluator import Evaluator
    from flowjobs.decisions.scope import Scope


def _texts(values: tuple[Any, ...]) -> list[str]:
    out: list[str] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        out.extend(to_text(item) for item in items)
    return out


def _scalar_text(value: Any, function: str) -> str:
    if isinstance(value, dict | list):
        raise FunctionError(f"{function}: {shown(value)} is not text")
    return to_text(value)


@register("CONCAT", 1, None)
def concat(*values: Any) -> str:
    # DecisionRules trims each argument before joining (its docs show "The value is:10")
    return check_text_size("".join(t.strip() for t in _texts(values)), "CONCAT")


@register("CONCAT_WS", 2, None)
def concat_ws(separator: Any, *values: Any) -> str:
    return check_text_size(_scalar_text(separator, "CONCAT_WS").join(_texts(values)), "CONCAT_WS")


@register("LEN", 1)
def len_(value: Any) -> int:
    return len(_scalar_text(value, "LEN"))


@register("UPPER_CASE", 1)
def upper_case(value: Any) -> str:
    return _scalar_text(value, "UPPER_CASE").upper()


@register("LOWER_CASE", 1)
def lower_case(value: Any) -> str:
    return _scalar_text(value, "LOWER_CASE").lower()


def _count(value: Any, function: str) -> int:
    count = int(number_arg(value, function))
    if count < 0:
        raise FunctionError(f"{function}: the count must not be negative")
    return count


@register("LEFT", 1, 2)
def left(value: Any, count: Any = 1) -> str:
    return _scalar_text(value, "LEFT")[: _count(count, "LEFT")]


@register("RIGHT", 1, 2)
def right(value: Any, count: Any = 1) -> str:
    text, n = _scalar_text(value, "RIGHT"), _count(count, "RIGHT")
    return text[len(text) - n :] if n else ""


@register("TRIM", 1)
def trim(value: Any) -> str:
    return _scalar_text(value, "TRIM").strip()


@register("TRIM_LEFT", 1)
def trim_left(value: Any) -> str:
    return _scalar_text(value, "TRIM_LEFT").lstrip()


@register("TRIM_RIGHT", 1)
def trim_right(value: Any) -> str:
    return _scalar_text(value, "TRIM_RIGHT").rstrip()


@register("SUBSTR", 2, 3)
def substr(value: Any, first: Any, last: Any = None) -> str:
    """Characters from position ``first`` to ``last``, both counted from 1 and included
    (the page's examples: SUBSTR("ab123ABCD",3,5) is "123", position 0 counts as 1)."""
    text = _scalar_text(value, "SUBSTR")
    start = max(int(number_arg(first, "SUBSTR")) - 1, 0)
    if last is None:
        return text[start:]
    return text[start : max(int(number_arg(last, "SUBSTR")), start)]


@register("RE", 1, 2)
def re_(pattern: Any, flags: Any = "") -> Regex:
    regex = Regex(_scalar_text(pattern, "RE"), _scalar_text(flags, "RE"))
    regex.compiled()  # refuse a bad pattern here, where the user wrote it
    return regex


def _regex(pattern: Any, function: str) -> Regex:
    """A Regex argument; plain text is a pattern with the g flag, as documented."""
    if isinstance(pattern, Regex):
        return pattern
    return Regex(_scalar_text(pattern, function), "g")


@register("TEST", 2)
def test(value: Any, pattern: Any) -> bool:
    return _regex(pattern, "TEST").compiled().search(_scalar_text(value, "TEST")) is not None


@register("TEXT", 1, lazy=True)
def text_(evaluator: Evaluator, scope: Scope, node: Node) -> Any:
    # the parser keeps TEXT's argument as written; a tree may hand any node
    from flowjobs.decisions.ast import Literal

    if isinstance(node, Literal):
        return to_text(node.value)
    return to_text(evaluator.evaluate(node, scope))


@register("MATCH", 2)
def match(value: Any, pattern: Any) -> list[str] | None:
    regex = _regex(pattern, "MATCH")
    text = _scalar_text(value, "MATCH")
    program = regex.compiled()
    if regex.is_global:
        matches = zip(range(MAX_RESULT_ITEMS), program.finditer(text), strict=False)
        found = [m.group(0) for _, m in matches]
        return found or None
    first = program.search(text)
    if first is None:
        return None
    return [first.group(0), *(g if g is not None else None for g in first.groups())]


@register("REPLACE", 3)
def replace(value: Any, pattern: Any, replacement: Any) -> str:
    regex = _regex(pattern, "REPLACE")
    text = _scalar_text(value, "REPLACE")
    template = js_replacement(_scalar_text(replacement, "REPLACE"))
    result = regex.compiled().sub(template, text, count=0 if regex.is_global else 1)
    return check_text_size(str(result), "REPLACE")


@register("SPLIT", 2)
def split(value: Any, pattern: Any) -> list[str]:
    regex = _regex(pattern, "SPLIT")
    parts = list(regex.compiled().split(_scalar_text(value, "SPLIT")))
    if len(parts) > MAX_RESULT_ITEMS:
        raise FunctionError("SPLIT: too many parts")
    return [p for p in parts if isinstance(p, str)]


@register("STRINGFORMAT", 1)
def stringformat(value: Any) -> str:
    # variables inside the text were already replaced when the text was parsed
    return _scalar_text(value, "STRINGFORMAT")


__all__ = ["compile_pattern"]
