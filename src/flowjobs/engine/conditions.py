"""Decision-table cell conditions, parsed once at validation.

A condition is one of:

* ``"-"``, ``null`` or a missing cell: matches anything;
* a literal number, boolean or string that is not one of the forms below:
  matches an equal value (``1`` equals ``1.0``; ``true`` does not equal ``1``);
* a comparison ``>= 18``, ``> 5``, ``<= 3``, ``< 2``, ``= x``, ``!= x`` where
  ``x`` is a number or a quoted string (``"gold"`` or ``'gold'``; ``=`` and
  ``!=`` also take ``true``, ``false`` and ``null``);
* a range ``[1..5]`` (both ends included), ``(1..5)`` (both excluded) or mixed
  ``[1..5)`` / ``(1..5]``; the ends are numbers or quoted strings of one kind;
* a list ``in [1, 2, "a"]`` or ``not in [...]`` (a JSON array).

Ordering comparisons and ranges match only values of the same kind (numbers
with numbers, strings with strings); anything else simply does not match.
To match a string that looks like one of the forms, write ``= "the string"``.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Matcher = Callable[[Any], bool]

_COMPARISON = re.compile(r"^(>=|<=|!=|>|<|=)\s*(.+)$", re.DOTALL)
_RANGE = re.compile(r"^([\[(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\])])$", re.DOTALL)
_RANGE_LIKE = re.compile(r"^[\[(].*\.\.", re.DOTALL)
_LIST = re.compile(r"^(not\s+)?in\s*(\[.*)$", re.DOTALL)

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


class ConditionError(ValueError):
    """The condition text is not one of the supported forms."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def same_value(left: Any, right: Any) -> bool:
    """Equality without Python's ``True == 1``."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    return type(left) is type(right) and bool(left == right)


def _comparable(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        return True
    return isinstance(left, str) and isinstance(right, str)


def _operand(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ConditionError(
            f'{text!r} is not a number or a quoted string (quote text: "{text}")'
        ) from None
    if isinstance(value, list | dict):
        raise ConditionError(f"{text!r} is not a number or a quoted string")
    return value


def _ordered_operand(text: str) -> Any:
    value = _operand(text)
    if not _is_number(value) and not isinstance(value, str):
        raise ConditionError(f"{text.strip()!r}: only numbers and strings can be ordered")
    return value


@dataclass(frozen=True)
class Condition:
    """A parsed condition; call :meth:`matches` with the input value."""

    source: Any
    matcher: Matcher | None  # None: matches anything

    def matches(self, value: Any) -> bool:
        return self.matcher is None or self.matcher(value)


def _comparison(symbol: str, operand_text: str) -> Matcher:
    if symbol == "=":
        expected = _operand(operand_text)
        return lambda value: same_value(value, expected)
    if symbol == "!=":
        unexpected = _operand(operand_text)
        return lambda value: not same_value(value, unexpected)
    bound = _ordered_operand(operand_text)
    compare = _ORDERINGS[symbol]
    return lambda value: _comparable(value, bound) and compare(value, bound)


def _range(match: re.Match[str]) -> Matcher:
    low, high = _ordered_operand(match[2]), _ordered_operand(match[3])
    if not _comparable(low, high):
        raise ConditionError("both ends of a range must be numbers, or both strings")
    if low > high:
        raise ConditionError(f"the range starts above its end ({low!r} > {high!r})")
    above = operator.ge if match[1] == "[" else operator.gt
    below = operator.le if match[4] == "]" else operator.lt
    return lambda value: _comparable(value, low) and above(value, low) and below(value, high)


def _membership(match: re.Match[str]) -> Matcher:
    try:
        options = json.loads(match[2])
    except json.JSONDecodeError as exc:
        raise ConditionError(f"the list after 'in' is not a JSON array: {exc}") from None
    if not isinstance(options, list):
        raise ConditionError("the list after 'in' is not a JSON array")
    if match[1]:
        return lambda value: not any(same_value(value, option) for option in options)
    return lambda value: any(same_value(value, option) for option in options)


def _text_matcher(source: str) -> Matcher:
    text = source.strip()
    if match := _COMPARISON.match(text):
        return _comparison(match[1], match[2])
    if match := _RANGE.match(text):
        return _range(match)
    if _RANGE_LIKE.match(text):
        raise ConditionError(
            "a range is written [low..high], (low..high), [low..high) or (low..high]"
        )
    if match := _LIST.match(text):
        return _membership(match)
    return lambda value: same_value(value, source)


def parse_condition(source: Any) -> Condition:
    """Parse one cell; raises :class:`ConditionError` for a malformed one."""
    if source is None or (isinstance(source, str) and source.strip() == "-"):
        return Condition(source, None)
    if isinstance(source, str):
        return Condition(source, _text_matcher(source))
    if isinstance(source, bool | int | float):
        return Condition(source, lambda value: same_value(value, source))
    raise ConditionError(
        f"a condition is a string, a number, a boolean or null, not {type(source).__name__}"
    )
