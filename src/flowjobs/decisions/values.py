"""DecisionRules' values and their typing.

Values are JSON values (None, bool, int, float, str, list, dict) plus
timezone-aware ``datetime.datetime`` for dates. DecisionRules is written in
JavaScript and casts as it goes: a number given as text (``"3"``) counts as
the number, ``"true"`` as the boolean. These helpers are that casting, shared
by every function family and operator.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

Number = int | float

_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*")
_MAX_SAFE_INTEGER = 2**53


def normalise_number(value: Number) -> Number:
    """A float that holds a whole number becomes an int, as JSON from JavaScript shows it."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= _MAX_SAFE_INTEGER:
        return int(value)
    return value


def is_number(value: Any) -> bool:
    """True for int and float, never for bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_number(value: Any) -> Number | None:
    """The number a value stands for, or None when it stands for none.

    Numbers as text count (``"3.5"`` -> 3.5), booleans are 1 and 0 as in
    JavaScript, anything else (null, "", "abc", arrays) has no number.
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value):
        number = float(value)
        if math.isinf(number):
            return None
        return normalise_number(number) if "." not in value and "e" not in value.lower() else number
    return None


def format_number(value: Number) -> str:
    """A number as JavaScript's String() writes it (8, 2.5, 1e+21)."""
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def to_text(value: Any) -> str:
    """A value as text, the way DecisionRules writes it into a string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    if isinstance(value, dt.datetime):
        return format_date(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def format_date(value: dt.datetime) -> str:
    """A date as ISO 8601 in UTC with milliseconds, as JavaScript's toISOString()."""
    utc = value.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def to_bool(value: Any) -> bool:
    """A value as a boolean: ``"true"``/``"false"`` as text count, then JavaScript's truthiness."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        return value != ""
    if isinstance(value, float) and math.isnan(value):
        return False
    if isinstance(value, list | dict):
        return True
    return bool(value)


def bool_of_text(value: Any) -> bool | None:
    """True/False for a boolean or ``"true"``/``"false"``; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return None


def is_null(value: Any) -> bool:
    """DecisionRules' "empty": null, an empty object or an empty array ("" and 0 are not)."""
    return value is None or value == {} or value == []


def dr_equals(left: Any, right: Any) -> bool:
    """DecisionRules' equality: numbers and booleans match their text (``"3" = 3``)."""
    if type(left) is str and type(right) is str:
        return left == right  # the common case first
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, bool) or isinstance(right, bool):
        return bool_of_text(left) is not None and bool_of_text(left) == bool_of_text(right)
    if is_number(left) or is_number(right):
        a, b = to_number(left), to_number(right)
        return a is not None and b is not None and a == b
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(dr_equals, left, right))
    return bool(left == right)


def eq_key(value: Any) -> tuple[Any, ...] | None:
    """A hashable key such that equal keys mean ``dr_equals`` (for cast table values).

    Numbers and numeric text share a key, booleans and "true"/"false" share one;
    None for values that never equal a scalar (arrays, objects) or have no key.
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("num", float(value))
    if isinstance(value, str):
        as_bool = bool_of_text(value)
        if as_bool is not None:
            return ("bool", as_bool)
        number = to_number(value)
        return ("num", float(number)) if number is not None else ("text", value)
    return None


def compare(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 as JavaScript's < and > order two values; None when they do not compare.

    Two numbers (or a number and numeric text, or booleans as 1 and 0) compare as
    numbers; two texts compare by code points; dates compare as instants.
    """
    if isinstance(left, dt.datetime) and isinstance(right, dt.datetime):
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        a_num, b_num = to_number(left), to_number(right)
        if a_num is None or b_num is None:
            return (left > right) - (left < right)
        return (a_num > b_num) - (a_num < b_num)
    a, b = to_number(left), to_number(right)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def json_value(value: Any) -> Any:
    """A result made JSON-ready: dates as ISO text, whole floats as ints."""
    if isinstance(value, float):
        return normalise_number(value)
    if isinstance(value, dt.datetime):
        return format_date(value)
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    if value is None or isinstance(value, str | int | bool):
        return value
    return to_text(value)  # e.g. a regular expression built by RE
