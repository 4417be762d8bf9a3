"""The general condition operators of decision-table cells.

As the general operators page and the decision-table operators page define
them, under every spelling the exports and the two pages use (``<>`` and
``!=``, ``NOT IN`` and ``!IN``, ``anything`` and ``ANY``, ``containsText``
and ``C TXT``, ``isNull`` and ``NULL``).
"""

from __future__ import annotations

from typing import Any

from flowjobs.decisions.functions.logical import between
from flowjobs.decisions.operators import OperatorSpec, register_operator
from flowjobs.decisions.values import compare, dr_equals, is_null, to_text


def _ordered(test: Any) -> Any:
    def run(value: Any, operand: Any) -> bool:
        result = compare(value, operand)
        return result is not None and bool(test(result))

    return run


def _is_in(value: Any, members: list[Any]) -> bool:
    return any(dr_equals(value, member) for member in members)


def _texts(value: Any) -> list[str]:
    """The request value as texts to search in: an array's elements, or the value itself."""
    if value is None:
        return []
    return [to_text(item) for item in value] if isinstance(value, list) else [to_text(value)]


def contains_any(value: Any, members: list[Any]) -> bool:
    """True when some member is in the value (as a substring of it or of one of its elements)."""
    texts = _texts(value)
    return any(to_text(member) in text for member in members for text in texts)


def contains_all(value: Any, members: list[Any]) -> bool:
    """EQ ARR: every member is a substring of at least one element of the value."""
    texts = _texts(value)
    return bool(texts) and all(any(to_text(m) in text for text in texts) for m in members)


def _between(open_low: bool, open_high: bool) -> Any:
    def run(value: Any, bounds: tuple[Any, Any]) -> bool:
        return between(bounds[0], value, bounds[1], open_low=open_low, open_high=open_high)

    return run


def _always(value: Any, operand: Any) -> bool:
    return True


GENERAL_OPERATORS = (
    OperatorSpec("=", dr_equals, aliases=("==", "EQ", "EQUALS"), equality=True),
    OperatorSpec("<>", lambda v, o: not dr_equals(v, o), aliases=("!=", "NE", "NOT EQUAL")),
    OperatorSpec(">", _ordered(lambda r: r > 0), aliases=("GT",)),
    OperatorSpec(">=", _ordered(lambda r: r >= 0), aliases=("GTE",)),
    OperatorSpec("<", _ordered(lambda r: r < 0), aliases=("LT",)),
    OperatorSpec("<=", _ordered(lambda r: r <= 0), aliases=("LTE",)),
    OperatorSpec("IN", _is_in, operand="list", equality=True),
    OperatorSpec("NOT IN", lambda v, o: not _is_in(v, o), operand="list", aliases=("!IN", "NOTIN")),
    OperatorSpec("ANYTHING", _always, operand="none", aliases=("ANY",)),
    OperatorSpec("BTW", _between(False, False), operand="range", aliases=("BETWEEN",)),
    OperatorSpec("BTW LO", _between(True, False), operand="range", aliases=("BTW_LEFT_OPEN",)),
    OperatorSpec("BTW RO", _between(False, True), operand="range", aliases=("BTW_RIGHT_OPEN",)),
    OperatorSpec(
        "!BTW",
        lambda v, o: not between(o[0], v, o[1], open_low=False, open_high=False),
        operand="range",
        aliases=("NOT BTW", "NOT_BTW"),
    ),
    OperatorSpec("NULL", lambda v, o: is_null(v), operand="none", aliases=("ISNULL", "IS NULL")),
    OperatorSpec(
        "!NULL",
        lambda v, o: not is_null(v),
        operand="none",
        aliases=("ISNOTNULL", "IS NOT NULL", "NOT NULL"),
    ),
    OperatorSpec("C TXT", contains_any, operand="list", aliases=("CONTAINSTEXT", "CONTAINS TEXT")),
    OperatorSpec("C IN", contains_any, operand="list", aliases=("CONTAINS IN",)),
    OperatorSpec("!C IN", lambda v, o: not contains_any(v, o), operand="list"),
    OperatorSpec("EQ ARR", contains_all, operand="list", aliases=("EQUAL ARRAY",)),
    OperatorSpec("ELSE", _always, operand="else"),
    OperatorSpec("FUNCTION", _always, operand="function"),
)

for _spec in GENERAL_OPERATORS:
    register_operator(_spec)
