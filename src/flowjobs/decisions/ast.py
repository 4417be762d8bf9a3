"""The nodes of a parsed expression.

A cell string (``{prices.crudePrice}*(100-{PromoDiscount})/100``) and an
exported pre-parsed tree (``{"functionName": "TIMES_CHAR", ...}``) both become
these nodes; the evaluator walks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant value (number, text, boolean, null, or a JSON value)."""

    value: Any


@dataclass(frozen=True, slots=True)
class Ref:
    """``{a.b[0].c}``: a path into the input data, or a rule variable's name."""

    path: tuple[str | int, ...]
    text: str  # as written between the braces, for messages


@dataclass(frozen=True, slots=True)
class Call:
    """A function call; operators such as ``*`` are calls of TIMES_CHAR and friends."""

    name: str  # upper case, as in the function registry
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ArrayNode:
    """``[a, b, c]``: an array built from expressions."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ObjectNode:
    """``{"key": expression, ...}``: a JSON object of expressions (keys may be expressions too)."""

    items: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Template:
    """Text with ``{var}`` parts, e.g. ``{PromoDiscount}% discount``."""

    parts: tuple[str | Ref, ...]


Node: TypeAlias = Literal | Ref | Call | ArrayNode | ObjectNode | Template
