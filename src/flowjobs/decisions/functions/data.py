"""The data function family of DecisionRules: PICK and RAW_VALUE.

A JSON path here is keys separated by dots with array indexes in brackets,
counted from 0: ``order[0].code``, ``[2]``. The array family picks with the
same paths.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from flowjobs.decisions.functions.common import FunctionError
from flowjobs.decisions.functions.registry import register
from flowjobs.decisions.scope import is_missing, walk
from flowjobs.decisions.values import is_number, to_text

Path = tuple[str | int, ...]

MAX_PATH = 1_000  # characters; a longer path is refused
_STEP = re.compile(
    r"\[\s*(?P<index>-?\d+)\s*\]|\[(?P<key>[^\]]*)\]|(?P<name>[^.\[\]]+)|(?P<dot>\.)"
)


@functools.lru_cache(maxsize=1024)
def parse_path(text: str) -> Path:
    """``order[0].code`` as ("order", 0, "code"); FunctionError when it is no path."""
    if len(text) > MAX_PATH:
        raise FunctionError("the JSON path is too long")
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        match = _STEP.match(text, position)
        if match is None:
            raise FunctionError(f"not a JSON path: {text!r}")
        if match.group("index") is not None:
            steps.append(int(match.group("index")))
        elif match.group("key") is not None:
            steps.append(match.group("key").strip("\"'"))
        elif match.group("name") is not None:
            steps.append(match.group("name").strip())
        position = match.end()
    return tuple(steps)


def path_of(value: Any) -> Path:
    """A path argument: text, or a bare array index given as a number."""
    if is_number(value) and float(value).is_integer():
        return (int(value),)
    if not isinstance(value, str):
        raise FunctionError(f"not a JSON path: {to_text(value)!r}")
    return parse_path(value)


def pick(value: Any, path: Path) -> Any:
    """The value at ``path`` inside ``value``; None when there is none."""
    if not path:
        return value
    if any(isinstance(step, int) and step < 0 for step in path):
        return None  # JavaScript has no negative indexes: arr[-1] is undefined
    found = walk(value, path)
    return None if is_missing(found) else found


@register("PICK", 2)
def pick_function(value: Any, path: Any) -> Any:
    """The value at a JSON path inside an object or array (null if absent)."""
    return pick(value, path_of(path))


@register("RAW_VALUE", 1)
def raw_value(value: Any) -> Any:
    """Its argument, of the same type, as written (no casting)."""
    return value
