"""The condition operators of decision-table cells, in a registry.

A condition cell ``{"type": "general", "operator": "IN", "value": ...}`` is
looked up here by its cell type and operator name (any spelling in
``aliases``; case and spaces do not matter). The general operators are
registered by ``general_operators.py``; the date operators by the date
family (``register_operator(..., cell_type="date")``).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

# none: no table value (NULL, anything); value: one value; list: values split on | , ;
# range: two values (BTW); function: the cell is a boolean expression of its own
OperandKind = Literal["none", "value", "list", "range", "function", "else"]


@dataclass(frozen=True, slots=True)
class OperatorSpec:
    """An operator: ``test(request value, table operand) -> bool``.

    The operand ``test`` gets depends on ``operand``: None, the value, a list
    of values, or a ``(low, high)`` pair. ``prepare`` (optional) converts each
    table value once, before any test (e.g. parses a date); ``equality`` marks
    operators whose rows a compiled table can find by hash lookup.
    """

    name: str
    test: Callable[[Any, Any], bool]
    operand: OperandKind = "value"
    aliases: tuple[str, ...] = ()
    cell_type: str = "general"
    prepare: Callable[[Any], Any] | None = None
    equality: bool = False


OPERATORS: dict[tuple[str, str], OperatorSpec] = {}


def operator_key(name: str) -> str:
    """An operator name as the registry keys it: upper case, single spaces."""
    return " ".join(name.split()).upper()


def register_operator(spec: OperatorSpec) -> OperatorSpec:
    """Add ``spec`` under its name and aliases for its cell type."""
    for name in (spec.name, *spec.aliases):
        key = (spec.cell_type, operator_key(name))
        if key in OPERATORS:
            raise ValueError(f"operator {name!r} registered twice for {spec.cell_type!r} cells")
        OPERATORS[key] = spec
    return spec


def find_operator(name: str, cell_type: str | None = "general") -> OperatorSpec | None:
    """The operator for a cell, or None: its cell type's own first, then the general one."""
    key = operator_key(name)
    kind = cell_type or "general"
    return OPERATORS.get((kind, key)) or OPERATORS.get(("general", key))


# modules of this package that register condition operators when imported
OPERATOR_MODULES = ("general_operators", "date_operators")


def load_operator_modules() -> None:
    """Import every operator module present (the date operators live beside the others)."""
    package = __name__.rsplit(".", 1)[0]
    for module in OPERATOR_MODULES:
        name = f"{package}.{module}"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
