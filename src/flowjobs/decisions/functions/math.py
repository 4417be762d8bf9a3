"""The math function family and the arithmetic operators (+ - * /)."""

from __future__ import annotations

import math
import random
import statistics
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from flowjobs.decisions.functions.common import (
    FunctionError,
    number_arg,
    number_result,
    numbers_of,
)
from flowjobs.decisions.functions.registry import register
from flowjobs.decisions.values import Number, to_text

# -- arithmetic: the cell operators (PLUS_CHAR, ...) and the tree names (PLUS, ...) --------


def _binary(function: str, left: Any, right: Any) -> tuple[Number, Number]:
    return number_arg(left, function), number_arg(right, function)


@register("PLUS_CHAR", 2)
def plus_char(left: Any, right: Any) -> Number:
    a, b = _binary("+", left, right)
    return number_result(a + b, "+")


@register("MINUS_CHAR", 1, 2)
def minus_char(left: Any, right: Any = None) -> Number:
    if right is None:
        return number_result(-number_arg(left, "-"), "-")
    a, b = _binary("-", left, right)
    return number_result(a - b, "-")


@register("TIMES_CHAR", 2)
def times_char(left: Any, right: Any) -> Number:
    a, b = _binary("*", left, right)
    return number_result(a * b, "*")


@register("DIVIDED_CHAR", 2)
def divided_char(left: Any, right: Any) -> Number:
    a, b = _binary("/", left, right)
    if b == 0:
        raise FunctionError("/: division by zero")
    return number_result(a / b, "/")


@register("PLUS", 1, None)
def plus(*values: Any) -> Number:
    return number_result(math.fsum(numbers_of(values, "PLUS")), "PLUS")


@register("MINUS", 1, None)
def minus(first: Any, *rest: Any) -> Number:
    if not rest:
        return minus_char(first)
    result = number_arg(first, "MINUS")
    for value in rest:
        result = number_result(result - number_arg(value, "MINUS"), "MINUS")
    return result


@register("TIMES", 1, None)
def times(*values: Any) -> Number:
    result: Number = 1
    for number in numbers_of(values, "TIMES"):
        result = number_result(result * number, "TIMES")
    return result


@register("DIVIDED", 2, None)
def divided(first: Any, *rest: Any) -> Number:
    result = number_arg(first, "DIVIDED")
    for value in rest:
        result = divided_char(result, value)
    return result


# -- the documented family ----------------------------------------------------------


@register("ABS", 1)
def abs_(value: Any) -> Number:
    return abs(number_arg(value, "ABS"))


@register("AVG", 1, None)
def avg(*values: Any) -> Number:
    numbers = numbers_of(values, "AVG")
    return number_result(math.fsum(numbers) / len(numbers), "AVG")


@register("CEILING", 1)
def ceiling(value: Any) -> Number:
    return number_result(math.ceil(number_arg(value, "CEILING")), "CEILING")


@register("FLOOR", 1)
def floor(value: Any) -> Number:
    return number_result(math.floor(number_arg(value, "FLOOR")), "FLOOR")


@register("COUNT", 1, None)
def count(*values: Any) -> int:
    return sum(len(v) if isinstance(v, list) else 1 for v in values)


@register("EXP", 1)
def exp(value: Any) -> Number:
    try:
        return number_result(math.exp(number_arg(value, "EXP")), "EXP")
    except OverflowError:
        raise FunctionError("EXP: the result is too large") from None


@register("MAX", 1, None)
def max_(*values: Any) -> Number:
    return max(numbers_of(values, "MAX"))


@register("MIN", 1, None)
def min_(*values: Any) -> Number:
    return min(numbers_of(values, "MIN"))


@register("MEDIAN", 1, None)
def median(*values: Any) -> Number:
    return number_result(statistics.median(numbers_of(values, "MEDIAN")), "MEDIAN")


@register("SUM", 1, None)
def sum_(*values: Any) -> Number:
    return number_result(math.fsum(numbers_of(values, "SUM")), "SUM")


@register("MODULO", 2)
def modulo(left: Any, right: Any) -> Number:
    a, b = _binary("MODULO", left, right)
    if b == 0:
        raise FunctionError("MODULO: division by zero")
    return number_result(math.fmod(a, b), "MODULO")  # JavaScript's %: the sign of a


@register("POW", 2)
def pow_(base: Any, exponent: Any) -> Number:
    a, b = _binary("POW", base, exponent)
    try:
        result = math.pow(a, b)
    except (OverflowError, ValueError):
        raise FunctionError(f"POW: {a}^{b} is not a finite real number") from None
    return number_result(result, "POW")


@register("RANDOM", 0, 2)
def random_(*bounds: Any) -> float:
    numbers = [number_arg(b, "RANDOM") for b in bounds]
    low, high = (0.0, 1.0) if not numbers else (0.0, numbers[0]) if len(numbers) == 1 else numbers
    return low + random.random() * (high - low)


def _round(value: Any, places: Any, rounding: str, function: str) -> Number:
    number = number_arg(value, function)
    digits = int(number_arg(places, function))
    if abs(digits) > 100:
        raise FunctionError(f"{function}: too many decimal places")
    # Decimal of the shortest text (as JavaScript prints it) so 1.465 stays 1.465
    exact = Decimal(to_text(number)).quantize(Decimal(1).scaleb(-digits), rounding=rounding)
    return number_result(float(exact), function)


@register("ROUND", 1, 2)
def round_(value: Any, places: Any = 0) -> Number:
    return _round(value, places, ROUND_HALF_UP, "ROUND")


@register("ROUNDE", 1, 2)
def round_even(value: Any, places: Any = 0) -> Number:
    return _round(value, places, ROUND_HALF_EVEN, "ROUNDE")


@register("NUMHASH", 0, None)
def numhash(*values: Any) -> int:
    """djb2 over the arguments' text (objects as compact JSON), as a 32-bit signed
    integer's absolute value: what the page's examples give ('hello', {"test": 123})."""
    text = "".join(to_text(v) for v in values)
    result = 5381
    for char in text:
        result = ((result << 5) + result + ord(char)) & 0xFFFFFFFF
    return abs(result - 2**32 if result >= 2**31 else result)
