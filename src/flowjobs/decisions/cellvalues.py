"""The values written in cells: DecisionRules keeps them as text and casts them when used."""

from __future__ import annotations

import json
from typing import Any

from flowjobs.decisions.ast import Literal, Node
from flowjobs.decisions.parser import parse_template, parse_tree
from flowjobs.decisions.values import bool_of_text, to_number

_SEPARATORS = frozenset("|,;")


def cast_text(text: str) -> Any:
    """A cell's text as the value it stands for: numbers, booleans, JSON, else the text.

    ``"25"`` is 25, ``"25.0"`` is 25, ``"true"`` is true, ``{"a":1}`` an object,
    ``"hello world"`` stays text, and text in double quotes keeps its quotes
    (the data types page: the result ``"true"`` is the text ``"true"``).
    """
    stripped = text.strip()
    if not stripped:
        return text
    as_bool = bool_of_text(stripped)
    if as_bool is not None and stripped in ("true", "false"):
        return as_bool
    number = to_number(stripped)
    if number is not None:
        return number
    if stripped[0] in "[{" and stripped[-1] in "]}":
        try:
            return json.loads(stripped)
        except ValueError:
            return text
    if stripped == "null":
        return None
    return text


def unquote(text: str) -> str:
    """Text without one pair of surrounding double or single quotes."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    return stripped


def operand_node(raw: Any) -> Node:
    """A condition cell's table value as a node: a constant, a ``{ref}``, a template, or an
    exported function tree."""
    if isinstance(raw, dict) and "functionName" in raw:
        return parse_tree(raw)
    if not isinstance(raw, str):
        return Literal(raw)
    node = parse_template(raw)
    if isinstance(node, Literal):
        stripped = raw.strip()
        if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
            return Literal(stripped[1:-1])  # a quoted table value is that text, uncast
        return Literal(cast_text(raw))
    return node


def split_members(raw: Any) -> list[Any]:
    """The members of a set cell: an array, or text split on ``|``, ``,`` or ``;``.

    A quoted member keeps its separators (``"1,2,3"`` is one member).
    """
    if isinstance(raw, list):
        return list(raw)
    if not isinstance(raw, str):
        return [raw]
    stripped = raw.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return parsed
    return _split_outside_quotes(stripped) if stripped else []


def _split_outside_quotes(text: str) -> list[str]:
    members: list[str] = []
    current: list[str] = []
    quote = ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
            current.append(char)
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char in _SEPARATORS:
            members.append("".join(current))
            current = []
        else:
            current.append(char)
    members.append("".join(current))
    return [m.strip() for m in members]


def split_range(raw: Any) -> tuple[Any, Any] | None:
    """The two ends of a between cell: ``[low, high]``, ``{"from", "to"}``, or ``low AND high``."""
    if isinstance(raw, list):
        return (raw[0], raw[1]) if len(raw) == 2 else None
    if isinstance(raw, dict):
        low = raw.get("from", raw.get("low", raw.get("start")))
        high = raw.get("to", raw.get("high", raw.get("end")))
        return (low, high) if low is not None and high is not None else None
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    for separator in (" AND ", " and ", "|", ";", ","):
        if separator in text:
            low, _, high = text.partition(separator)
            return low.strip(), high.strip()
    return None
