"""JSONata regex literals compiled with RE2: matching in time linear in the
input, so no pattern can backtrack catastrophically.

Python's ``re`` runs in C without releasing the GIL or checking the
expression timeout, so ``/^(a+)+$/`` on 29 ``a`` and a ``!`` held the event
loop (and every job of the process) for 40 s. RE2 has no backreferences
and no lookaround; a pattern that uses them fails when the flow is
validated, with RE2's reason.
"""

from __future__ import annotations

import re2
from jsonata.regex_engine import RegexFlags


class UnsupportedRegexError(ValueError):
    """The pattern is not one RE2 accepts."""


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # the reason goes into the validation problem instead
    return options


_OPTIONS = _options()


def linear_regex(pattern: str, flags: RegexFlags) -> re2._Regexp:
    """jsonata-python's ``regex_engine`` hook: ``/pattern/flags`` as an RE2 pattern."""
    prefix = ("(?i)" if flags.case_insensitive else "") + ("(?m)" if flags.multiline else "")
    try:
        return re2.compile(prefix + pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise UnsupportedRegexError(
            f"regex /{pattern}/ is not supported: {reason} (regexes run on RE2, "
            "which has no backreferences or lookaround)"
        ) from exc
