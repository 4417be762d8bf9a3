"""Regular expressions through RE2: linear time, so no pattern can backtrack catastrophically.

JavaScript patterns (what DecisionRules users write) mostly read the same in
RE2; flags ``i``, ``m``, ``s`` become inline flags, ``g`` is kept for the
functions that care (MATCH, REPLACE).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2

from flowjobs.decisions.problems import ExpressionError

MAX_PATTERN_LENGTH = 10_000
_INLINE = {"i": "i", "m": "m", "s": "s"}


@dataclass(frozen=True, slots=True)
class Regex:
    """A value built by RE(pattern, flags); shown as ``/pattern/flags``."""

    pattern: str
    flags: str = ""

    @property
    def is_global(self) -> bool:
        return "g" in self.flags

    def compiled(self) -> Any:
        return compile_pattern(self.pattern, self.flags)

    def __str__(self) -> str:
        return f"/{self.pattern}/{self.flags}"


@lru_cache(maxsize=1024)
def compile_pattern(pattern: str, flags: str) -> Any:
    """The RE2 program of a JavaScript-style pattern; ExpressionError when RE2 refuses it."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ExpressionError("regular expression is too long")
    unknown = set(flags) - set("gimsuy")
    if unknown:
        raise ExpressionError(f"unknown regular expression flags {''.join(sorted(unknown))!r}")
    inline = "".join(_INLINE[f] for f in flags if f in _INLINE)
    try:
        return re2.compile(f"(?{inline}){pattern}" if inline else pattern)
    except re2.error as error:
        raise ExpressionError(f"invalid regular expression {pattern!r}: {error}") from None


def js_replacement(replacement: str) -> str:
    """A JavaScript replacement (``$1``, ``$&``, ``$$``) in Python's ``\\g<n>`` form."""
    out: list[str] = []
    index = 0
    while index < len(replacement):
        char = replacement[index]
        nxt = replacement[index + 1 : index + 2]
        if char == "\\":
            out.append("\\\\")
        elif char == "$" and nxt == "$":
            out.append("$")
            index += 1
        elif char == "$" and nxt == "&":
            out.append("\\g<0>")
            index += 1
        elif char == "$" and nxt.isdigit():
            out.append(f"\\g<{nxt}>")
            index += 1
        else:
            out.append(char)
        index += 1
    return "".join(out)
