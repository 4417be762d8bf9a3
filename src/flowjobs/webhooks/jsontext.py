"""JSON text that JavaScript gives back unchanged.

A receiver using the DecisionRules SDK checks a signature over
``JSON.stringify(JSON.parse(body))``, not over the bytes it received. So the
body must be exactly what ``JSON.stringify`` writes for the parsed value:

- no spaces between tokens; non-ASCII characters written as themselves;
- numbers as JavaScript writes a double: ``1.0`` is ``1``, ``1e21`` is
  ``1e+21``, ``1e-7`` is ``1e-7``, ``1e16`` is ``10000000000000000``, and an
  integer beyond 2**53 loses the digits a double cannot hold;
- object keys that are array indices ("0", "1", ... up to 2**32 - 2) first, in
  ascending numeric order, then the others in insertion order (the order of
  an object's own keys in JavaScript).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_SAFE_INTEGER = 2**53
_MAX_ARRAY_INDEX = 2**32 - 2
_SURROGATE = re.compile("[\ud800-\udfff]")
_INDEX_KEY = re.compile(r"^(0|[1-9][0-9]*)$")


def dumps(value: Any) -> str:
    """``value`` (JSON data: dict, list, str, int, float, bool, None) as the
    text ``JSON.stringify`` would write for it."""
    parts: list[str] = []
    _write(value, parts)
    return "".join(parts)


def _write(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool):
        out.append({None: "null", True: "true", False: "false"}[value])
    elif isinstance(value, str):
        out.append(string(value))
    elif isinstance(value, int):
        out.append(integer(value))
    elif isinstance(value, float):
        out.append(number(value))
    elif isinstance(value, Mapping):
        _write_object(value, out)
    elif isinstance(value, list | tuple):
        _write_array(value, out)
    else:
        raise TypeError(f"a {type(value).__name__} is not JSON data")


def _write_array(items: list[Any] | tuple[Any, ...], out: list[str]) -> None:
    out.append("[")
    for position, item in enumerate(items):
        if position:
            out.append(",")
        _write(item, out)
    out.append("]")


def _write_object(mapping: Mapping[Any, Any], out: list[str]) -> None:
    out.append("{")
    for position, key in enumerate(ordered_keys(mapping)):
        if position:
            out.append(",")
        out.append(string(key))
        out.append(":")
        _write(mapping[key], out)
    out.append("}")


def is_array_index(key: str) -> bool:
    return bool(_INDEX_KEY.match(key)) and int(key) <= _MAX_ARRAY_INDEX


def ordered_keys(mapping: Mapping[Any, Any]) -> list[str]:
    """Keys in the order JavaScript enumerates an object's own properties."""
    keys = list(mapping)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError(f"object keys must be strings, not {type(key).__name__}")
    indices = sorted((k for k in keys if is_array_index(k)), key=int)
    return indices + [k for k in keys if not is_array_index(k)]


def string(text: str) -> str:
    """A JSON string as JavaScript writes it: the same escapes as Python's
    (``\\"``, ``\\\\``, ``\\n`` ..., ``\\u00XX`` for other control characters)
    and lone surrogates as ``\\udXXX``."""
    quoted = json.dumps(text, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def integer(value: int) -> str:
    if -_SAFE_INTEGER <= value <= _SAFE_INTEGER:
        return str(value)
    try:
        return number(float(value))  # what JSON.parse makes of it
    except OverflowError:
        return "null"  # JSON.parse gives Infinity, which JSON.stringify writes as null


def number(value: float) -> str:
    """A double as JavaScript's ``Number.prototype.toString`` writes it
    (ECMA-262 Number::toString), from the shortest digits that round-trip:
    the same digits Python's ``repr`` finds."""
    if not math.isfinite(value):
        return "null"
    if value == 0:
        return "0"  # -0 too
    if value < 0:
        return "-" + number(-value)
    digits, n = _shortest_digits(value)
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    exponent = n - 1
    sign = "+" if exponent >= 0 else "-"
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{sign}{abs(exponent)}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """(digits, n) with value = 0.digits * 10**n, digits without leading or
    trailing zeros (ECMA-262's s, k and n)."""
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    n = len(whole) + int(exponent or 0)
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    return stripped.rstrip("0"), n
