"""Issue 17 point 2: JSONata regexes run on RE2, whose matching is linear in
the input, so the issue's catastrophic pattern cannot hold the event loop."""

from __future__ import annotations

import time

import pytest

from flowjobs.engine import EngineLimits, compile_flow
from flowjobs.engine.expressions import Expression, ExpressionSyntaxError
from flowjobs.errors import FlowValidationError

CATASTROPHIC = "$contains(input.s, /^(a+)+$/)"


def test_the_catastrophic_pattern_answers_at_once() -> None:
    # On Python's re this took 40 s at 29 "a"s (doubling with each one more).
    scope = {"input": {"s": "a" * 29 + "!"}}
    started = time.monotonic()
    assert Expression(CATASTROPHIC).evaluate(scope, EngineLimits()) is False
    long_scope = {"input": {"s": "a" * 100_000 + "!"}}
    assert Expression(CATASTROPHIC).evaluate(long_scope, EngineLimits()) is False
    # Generous: the point is seconds versus hours, not a timing threshold.
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('$contains("HeLLo", /hello/i)', True),
        ('$match("a\nb", /^b/m).index', 2),
        ('$replace("John Smith", /(\\w+)\\s(\\w+)/, "$2, $1")', "Smith, John"),
        ('$split("a1b2c", /[0-9]/)', ["a", "b", "c"]),
        ('$match("ab12cd34", /[0-9]+/).match', ["12", "34"]),
        ('$replace("abc", /b/, function($m) { $uppercase($m.match) })', "aBc"),
    ],
)
def test_regex_functions_behave_as_before(source: str, expected: object) -> None:
    assert Expression(source).evaluate({}, EngineLimits()) == expected


@pytest.mark.parametrize("pattern", ["/(a)\\1/", "/a(?=b)/", "/(?<!x)a/"])
def test_backtracking_only_features_are_refused_at_validation(pattern: str) -> None:
    with pytest.raises(ExpressionSyntaxError, match="RE2"):
        Expression(f'$contains("aa", {pattern})')
    document = {
        "name": "regex",
        "nodes": [{"id": "r", "type": "end", "output": f'$contains("aa", {pattern})'}],
    }
    with pytest.raises(FlowValidationError, match="backreferences or lookaround"):
        compile_flow(document)
