"""Every example of the text functions page.

Source: rules_data-types-and-functions_operators_functions_text.md
"""

from __future__ import annotations

from typing import Any

import pytest
from dr_testkit import INVALID, check

from flowjobs.decisions.evaluator import evaluate_text
from flowjobs.decisions.functions.common import MAX_RESULT_TEXT
from flowjobs.decisions.problems import ExpressionError

CASES: list[tuple[str, dict[str, Any] | None, Any]] = [
    ('CONCAT("pine","apple")', None, "pineapple"),
    ('CONCAT("he","ll","o")', None, "hello"),
    ("CONCAT(1,2)", None, "12"),
    ('CONCAT({input},"end")', {"input": "week"}, "weekend"),
    ('CONCAT(1+1,"nd")', None, "2nd"),
    ('CONCAT(["a","b","c"])', None, "abc"),
    ("CONCAT()", None, INVALID),
    ('CONCAT("The value is: ", {value})', {"value": 10}, "The value is:10"),
    ('CONCAT({value}, " is the value")', {"value": 10}, "10is the value"),
    # the page's first CONCAT_WS line is written CONCAT("-","pine","apple"): CONCAT_WS meant
    ('CONCAT_WS("-","pine","apple")', None, "pine-apple"),
    ('CONCAT_WS("+","he","ll","o")', None, "he+ll+o"),
    ('CONCAT_WS("_",1,2)', None, "1_2"),
    ('CONCAT_WS(" ",{input},"end")', {"input": "week"}, "week end"),
    ('CONCAT_WS("^",1+1,"nd")', None, "2^nd"),
    ('CONCAT_WS("separator","word")', None, "word"),
    ('CONCAT_WS("!",["a","b","c"])', None, "a!b!c"),
    ("CONCAT_WS()", None, INVALID),
    ('LEN("Hello")', None, 5),
    ('LEN("555")', None, 3),
    ("LEN(555)", None, 3),
    ('LEN("Hello", "bye")', None, INVALID),
    ('UPPER_CASE("Hello World")', None, "HELLO WORLD"),
    ('UPPER_CASE("I AM NEW HERE")', None, "I AM NEW HERE"),
    ('UPPER_CASE("2ae3")', None, "2AE3"),
    ('UPPER_CASE("Hello", "World")', None, INVALID),
    ('LOWER_CASE("Hello World")', None, "hello world"),
    # the page shows "i am here" for "I AM NEW HERE": lower case keeps every word
    ('LOWER_CASE("I AM NEW HERE")', None, "i am new here"),
    ('LOWER_CASE("2AE3")', None, "2ae3"),
    ('LOWER_CASE("Hello", "World")', None, INVALID),
    ('LEFT("abcd")', None, "a"),
    ('LEFT("")', None, ""),
    ('LEFT("abcd",2)', None, "ab"),
    ("LEFT({input},2)", {"input": "123"}, "12"),
    ('RIGHT("abcd")', None, "d"),
    ('RIGHT("")', None, ""),
    ('RIGHT("abcd",2)', None, "cd"),
    ("RIGHT({input},2)", {"input": "123"}, "23"),
    ('TRIM("   abcd   ")', None, "abcd"),
    ('TRIM("")', None, ""),
    ('TRIM("abcd")', None, "abcd"),
    ("TRIM({input})", {"input": "  123  "}, "123"),
    ('TRIM_LEFT("   abcd")', None, "abcd"),
    ('TRIM_LEFT("   abcd   ")', None, "abcd   "),
    ('TRIM_LEFT("")', None, ""),
    ("TRIM_LEFT({input})", {"input": "  123"}, "123"),
    ('TRIM_RIGHT("abcd   ")', None, "abcd"),
    ('TRIM_RIGHT("abcd")', None, "abcd"),
    ('TRIM_RIGHT("")', None, ""),
    ("TRIM_RIGHT({VARIABLE})", {"VARIABLE": "123  "}, "123"),
    ('SUBSTR("ab123ABCD",3,5)', None, "123"),
    ('SUBSTR("ab123ABCD",6,6)', None, "A"),
    ('SUBSTR("ab123ABCD",0,5)', None, "ab123"),
    ('SUBSTR("ab123ABCD",3)', None, "123ABCD"),
    ('SUBSTR("ab123ABCD")', None, INVALID),
    ('TEST("Hello, World!","ll")', None, True),
    ('TEST("Hello, World!","[A-Z]")', None, True),
    ('TEST("Hello, World!",RE("l{2}"))', None, True),
    ('TEST("Hello, World!",RE("l{3}"))', None, False),
    ('TEST("Hello, World!",RE("H[ae]llo"))', None, True),
    ('TEST("Hello, World!",RE("h[ae]llo"))', None, False),
    ('TEXT("Hello, World!")', None, "Hello, World!"),
    ("TEXT('Hello, World!')", None, "Hello, World!"),
    ("TEXT(Hello, World!)", None, "Hello, World!"),
    ('TEXT("Let\'s go!")', None, "Let's go!"),
    (
        'TEXT({"key":"Hello", "value":"World!"})',
        None,
        '{"key":"Hello", "value":"World!"}',
    ),
    ('TEXT("^\\d{5}$")', None, "^\\d{5}$"),
    ("TEXT(TEXT())", None, "TEXT()"),
    ('MATCH("Hello, World!","ll")', None, ["ll"]),
    ('MATCH("Hello, World!","[A-Z]")', None, ["H", "W"]),
    ('MATCH("Hello, World!",RE("[A-Z]"))', None, ["H"]),
    ('MATCH("Hello, World!",RE("[A-Z]","g"))', None, ["H", "W"]),
    ('MATCH("Hello, World!",RE("l{3}"))', None, None),
    ('MATCH("Hello, World!",RE("h[ae]llo"))', None, None),
    ('REPLACE("Hello World", "o", "a")', None, "Hella Warld"),
    ('REPLACE("Hello, World!", "ll", "zz")', None, "Hezzo, World!"),
    ('REPLACE("Hello, World!", RE("[A-Z]","g"), "X")', None, "Xello, Xorld!"),
    ('REPLACE("John Smith", RE("(\\w+)\\s(\\w+)"), "$2, $1")', None, "Smith, John"),
    ('SPLIT("Hello, World!", "ll")', None, ["He", "o, World!"]),
    ('SPLIT("Hello, World!", "l{2}")', None, ["He", "o, World!"]),
    ('SPLIT("Hello, World!", RE("[A-Z]","g"))', None, ["", "ello, ", "orld!"]),
    ('STRINGFORMAT("Hello,World")', None, "Hello,World"),
    ('STRINGFORMAT("{INPUT}bye")', {"INPUT": "hi"}, "hibye"),
    ('STRINGFORMAT("Hello")', None, "Hello"),
    ('STRINGFORMAT("ha he")', None, "ha he"),
]


@pytest.mark.parametrize(("expression", "data", "expected"), CASES)
def test_text_page_example(expression: str, data: dict[str, Any] | None, expected: Any) -> None:
    check(expression, data, expected)


def test_re_shows_as_a_javascript_literal() -> None:
    assert str(evaluate_text('RE("[A-Z]")')) == "/[A-Z]/"
    assert str(evaluate_text('RE("[A-Z]","g")')) == "/[A-Z]/g"


def test_patterns_that_backtrack_in_other_engines_run_in_linear_time() -> None:
    # (a+)+$ on a long run of a's followed by b takes exponential time in backtracking engines
    text = "a" * 5000 + "b"
    assert evaluate_text('TEST({t}, RE("(a+)+$"))', {"t": text}) is False


def test_a_result_text_is_size_bounded() -> None:
    big = "x" * (MAX_RESULT_TEXT // 2 + 1)
    with pytest.raises(ExpressionError):
        evaluate_text("CONCAT({a},{a},{a})", {"a": big})
