"""JSON data that flowjobs can store on either database and serve back.

One check for every value written as a job's input, output, logs and trace:
the API and the dashboard (through ``JobManager.start``) and the worker call
it at the boundary where the value is written, so a value that could not be
stored, or read back, never reaches the database. What it refuses:

- nesting deeper than the limit (``FLOWJOBS_MAX_JSON_DEPTH``; the JSON
  serializer of the responses gives up near 255 levels, and a job's JSON
  wraps its input and output in a few levels more);
- U+0000 (NUL) in a string or key: PostgreSQL's ``jsonb`` and ``text``
  cannot hold it (SQLite can: refusing it on both gives one behaviour);
- lone surrogates (U+D800 to U+DFFF) in a string or key: not encodable as
  UTF-8, so neither storable nor sendable;
- NaN and infinities, integers of more than 4300 digits (Python's limit for
  writing them as text), and values that are not JSON at all.

Pure: no I/O. :func:`problem` says what is wrong, :func:`require_storable`
raises it as a 400 for request data, :func:`scrub` mends what is only kept
for reading (log lines, traces, error messages) instead of refusing it.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flowjobs.errors import InvalidJsonError, JsonTooDeepError, UnsupportedCharacterError

MAX_DEPTH_CEILING = 200  # FLOWJOBS_MAX_JSON_DEPTH's highest value (see the module doc)
REPLACEMENT = "\ufffd"  # what scrub writes for a NUL or a lone surrogate
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
_BIG_INT_BITS = 14_000  # below this an int has fewer than 4300 digits: no text check needed


@dataclass(frozen=True)
class JsonProblem:
    """Why a value cannot be stored: ``kind`` is ``depth``, ``nul``,
    ``surrogate``, ``number`` or ``type``; ``path`` where (``$.a[0]``)."""

    kind: str
    path: str
    detail: str

    def describe(self, what: str) -> str:
        return f"{what} {self.detail} (at {self.path})"


# A position in the value, built only as far as the walk goes: (parent, key
# or index); turned into text (``$.a[0]``) only for the problem it names.
_Path = tuple[Any, str | int] | None


def problem(value: Any, *, max_depth: int) -> JsonProblem | None:
    """The first reason ``value`` cannot be stored as JSON, or None."""
    if not isinstance(value, dict | list | tuple):
        return _scalar_problem(value, None)
    # Only arrays and objects go on the stack; scalars are judged as they are
    # met (a 1 MiB input is some 100,000 values: this walk is the hot part).
    stack: list[tuple[Any, int, _Path]] = [(value, 0, None)]
    while stack:
        item, depth, path = stack.pop()
        if depth >= max_depth:
            detail = f"nests arrays and objects deeper than {max_depth} levels"
            return JsonProblem("depth", _text(path), detail)
        if isinstance(item, dict):
            found = _keys_problem(item, path) or _children_problem(item.items(), depth, path, stack)
        else:
            found = _children_problem(enumerate(item), depth, path, stack)
        if found is not None:
            return found
    return None


def _children_problem(
    children: Iterable[tuple[Any, Any]],
    depth: int,
    path: _Path,
    stack: list[tuple[Any, int, _Path]],
) -> JsonProblem | None:
    """The first problem of the scalars among ``children``; the arrays and
    objects among them are pushed on ``stack``."""
    for key, child in children:
        kind = type(child)
        if kind is str:
            if _BAD_CHARACTER.search(child) is not None:
                return _scalar_problem(child, (path, key))
        elif isinstance(child, dict | list | tuple):
            stack.append((child, depth + 1, (path, key)))
        elif kind is not bool and child is not None:
            found = _scalar_problem(child, (path, key))
            if found is not None:
                return found
    return None


def _keys_problem(item: dict[Any, Any], path: _Path) -> JsonProblem | None:
    for key in item:
        if isinstance(key, str):
            bad = _BAD_CHARACTER.search(key)
            if bad is not None:
                return _character_problem(bad.group(), _text((path, key)))
        elif not isinstance(key, int | float | bool) and key is not None:
            return JsonProblem("type", _text(path), "has a key that is not a string")
    return None


def _text(path: _Path) -> str:
    segments: list[str] = []
    while path is not None:
        path, key = path
        segments.append(f"[{key}]" if type(key) is int else f".{scrub_text(str(key)[:40])}")
    if len(segments) > 12:  # a deep path: its start and end say enough
        segments[3:-6] = [f"...({len(segments) - 9} more)"]
    return "$" + "".join(reversed(segments))


def _scalar_problem(item: Any, path: _Path) -> JsonProblem | None:
    if item is None or isinstance(item, bool):
        return None
    if isinstance(item, str):
        bad = _BAD_CHARACTER.search(item)
        return None if bad is None else _character_problem(bad.group(), _text(path))
    if isinstance(item, int):
        return _integer_problem(item, path)
    if isinstance(item, float):
        if math.isfinite(item):
            return None
        return JsonProblem("number", _text(path), f"holds {item!r}, which JSON cannot hold")
    return JsonProblem("type", _text(path), f"holds a {type(item).__name__}, which is not JSON")


def _character_problem(character: str, path: str) -> JsonProblem:
    if character == "\x00":
        return JsonProblem(
            "nul", path, "holds a NUL character (U+0000), which flowjobs does not store"
        )
    return JsonProblem(
        "surrogate",
        path,
        f"holds a lone surrogate (U+{ord(character):04X}), which is not valid Unicode text",
    )


def _integer_problem(number: int, path: _Path) -> JsonProblem | None:
    if number.bit_length() < _BIG_INT_BITS:
        return None
    limit = sys.get_int_max_str_digits()
    try:
        str(number)
    except ValueError:
        return JsonProblem("number", _text(path), f"holds an integer of more than {limit} digits")
    return None


def require_storable(value: Any, *, max_depth: int, what: str = "The request body") -> None:
    """Refuse request data that cannot be stored: 400 ``JSON_TOO_DEEP``,
    ``UNSUPPORTED_CHARACTER`` (NUL) or ``INVALID_JSON`` (the rest)."""
    found = problem(value, max_depth=max_depth)
    if found is None:
        return
    if found.kind == "depth":
        raise JsonTooDeepError(f"{what} {found.detail} (FLOWJOBS_MAX_JSON_DEPTH; at {found.path})")
    message = found.describe(what)
    if found.kind == "nul":
        raise UnsupportedCharacterError(message)
    raise InvalidJsonError(message)


def scrub_text(text: str) -> str:
    """``text`` with each NUL and lone surrogate replaced by U+FFFD."""
    return _BAD_CHARACTER.sub(REPLACEMENT, text)


def scrub(value: Any, *, max_depth: int) -> Any:
    """A storable copy of data kept for reading (log lines, traces, errors):
    NUL and lone surrogates become U+FFFD, what nests deeper than
    ``max_depth`` becomes a note, and what is not JSON becomes its ``repr``.
    Arrays and objects are copied; other values that need no change are
    returned as they are."""
    return _scrub(value, max_depth, 0)


def _scrub(value: Any, max_depth: int, depth: int) -> Any:
    if isinstance(value, str):
        return scrub_text(value) if _BAD_CHARACTER.search(value) else value
    if isinstance(value, dict | list | tuple):
        if depth >= max_depth:
            return f"(nested deeper than {max_depth} levels: left out)"
        if isinstance(value, dict):
            return {
                scrub_text(str(key)): _scrub(child, max_depth, depth + 1)
                for key, child in value.items()
            }
        return [_scrub(child, max_depth, depth + 1) for child in value]
    if _scalar_problem(value, None) is None:
        return value
    return scrub_text(repr(value)[:1000])
