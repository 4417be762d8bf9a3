"""Argument helpers shared by the function families: DecisionRules' casts, or "invalid"."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from flowjobs.decisions.problems import ExpressionError, shown
from flowjobs.decisions.values import Number, normalise_number, to_number

__all__ = [
    "MAX_RESULT_ITEMS",
    "MAX_RESULT_TEXT",
    "FunctionError",
    "check_text_size",
    "number_arg",
    "number_result",
    "numbers_of",
    "shown",  # kept importable here for the families
]

MAX_RESULT_ITEMS = 100_000  # arrays a function builds
MAX_RESULT_TEXT = 1_000_000  # characters of a text a function builds


class FunctionError(ExpressionError):
    """A function got arguments it cannot work with (DecisionRules' "invalid")."""

    code = "INVALID_FUNCTION_ARGUMENT"


def number_arg(value: Any, function: str) -> Number:
    """``value`` as a number, or FunctionError naming ``function``."""
    number = to_number(value)
    if number is None:
        raise FunctionError(f"{function}: {shown(value)} is not a number")
    return number


def numbers_of(values: Iterable[Any], function: str) -> list[Number]:
    """Every argument as a number, arrays among them opened one level."""
    out: list[Number] = []
    for value in values:
        items = value if isinstance(value, list) else [value]
        out.extend(number_arg(item, function) for item in items)
    if not out:
        raise FunctionError(f"{function}: no numbers given")
    return out


def number_result(value: float | int, function: str) -> Number:
    """A result as JSON can hold it: finite, whole floats as ints, huge ints as floats."""
    if isinstance(value, int):
        return value if abs(value) <= 2**53 else float(value)
    if math.isnan(value) or math.isinf(value):
        raise FunctionError(f"{function}: the result is not a finite number")
    return normalise_number(value) if abs(value) <= 2**53 else value


def check_text_size(text: str, function: str) -> str:
    """``text`` if it is within the size a function may build."""
    if len(text) > MAX_RESULT_TEXT:
        raise FunctionError(f"{function}: the result text is too long")
    return text
