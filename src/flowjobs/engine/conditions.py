"""Decision-table cell conditions of the ``decisionTable`` node, read into
DecisionRules' condition cells, so that the node matches with the operators
of :mod:`flowjobs.decisions` (the Solver API's): docs/flows.md, decisionTable.

A condition is one of:

* ``"-"``, ``null`` or a missing cell: matches anything;
* a number or boolean: equal to it (DecisionRules' equality: ``5`` is ``"5"``);
* ``"<operator> <operand>"`` with a decision-table operator of DecisionRules:
  ``>= 18``, ``= gold``, ``<> x``, ``IN [1, 2]``, ``NOT IN a, b``,
  ``BTW 600, 800``, ``BTW LO 1, 5``, ``!BTW 1, 5``, ``NULL``, ``!NULL``,
  ``C TXT abc``, ``C IN a, b``, ``ANYTHING``; operands may be
  ``{input}`` references to the node's other inputs;
* a range ``[1..5]`` (``BTW``), ``(1..5]`` (``BTW LO``) or ``[1..5)``
  (``BTW RO``).

Anything else (``"between 600 and 800"``, a bare ``"gold"``) is an error at
push, never a silent string comparison.
"""

from __future__ import annotations

from typing import Any

import re2

from flowjobs.decisions.operators import find_operator

_SYMBOLIC = re2.compile(r"(?s)^(>=|<=|<>|!=|==|=|>|<)\s*(.*)$")
_RANGE = re2.compile(r"(?s)^([\[(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\])])$")
_RANGE_OPERATORS = {("[", "]"): "BTW", ("(", "]"): "BTW LO", ("[", ")"): "BTW RO"}
MAX_OPERATOR_WORDS = 3  # the longest operator names: "NOT EQUAL", "CONTAINS TEXT", "BTW LO"


class ConditionError(ValueError):
    """The condition is not one of the supported forms."""


def to_scalar_condition(source: Any) -> dict[str, Any]:
    """A node's condition as a DecisionRules ``scalarCondition``."""
    if source is None or source == "-":
        return _cell("ANYTHING", "")
    if isinstance(source, bool | int | float):
        return _cell("=", source)
    if not isinstance(source, str):
        raise ConditionError(
            f"a condition is a string, a number or a boolean, not a {_kind(source)}"
        )
    text = source.strip()
    if not text:
        raise ConditionError("an empty condition: write ANYTHING (or -) to match any value")
    ranged = _RANGE.match(text)
    if ranged is not None:
        return _range(ranged)
    symbolic = _SYMBOLIC.match(text)
    if symbolic is not None:
        return _cell(symbolic.group(1), symbolic.group(2).strip())
    return _worded(text)


def _range(match: Any) -> dict[str, Any]:
    operator = _RANGE_OPERATORS.get((match.group(1), match.group(4)))
    if operator is None:
        raise ConditionError("a range open at both ends: use > and < in two inputs, or BTW LO/RO")
    return _cell(operator, [_unquoted(match.group(2)), _unquoted(match.group(3))])


def _worded(text: str) -> dict[str, Any]:
    words = text.split()
    for count in range(min(MAX_OPERATOR_WORDS, len(words)), 0, -1):
        spec = find_operator(" ".join(words[:count]))
        if spec is not None:
            operand = text.split(maxsplit=count)[count] if len(words) > count else ""
            if spec.operand in ("none", "else") and operand:
                raise ConditionError(f"{spec.name} takes no operand, got {operand[:40]!r}")
            return _cell(spec.name, operand.strip())
    raise ConditionError(
        f"no operator in {text[:60]!r}: start with one of DecisionRules' operators "
        f'(=, <>, >, >=, <, <=, IN, NOT IN, BTW, NULL, !NULL, C TXT, ...), e.g. "= {text[:30]}"'
    )


def _cell(operator: str, value: Any) -> dict[str, Any]:
    return {"type": "general", "operator": operator, "value": value}


def _unquoted(text: str) -> str:
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    return stripped


def _kind(value: Any) -> str:
    return "list" if isinstance(value, list) else type(value).__name__
