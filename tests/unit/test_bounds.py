"""Bounds on request bodies (depth, values) and on flow documents (string and
array lengths): each refusal names its limit."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from flowjobs.api.bodyparse import check_json_bounds
from flowjobs.api.deps import parse_json
from flowjobs.engine import EngineLimits, compile_flow
from flowjobs.engine.bounds import size_problems
from flowjobs.errors import (
    FlowValidationError,
    InvalidJsonError,
    JsonTooDeepError,
    PayloadTooLargeError,
)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_json_exactly_at_the_depth_limit_is_accepted() -> None:
    assert parse_json(nested(3), max_depth=3) == [[[]]]
    assert parse_json(b'{"a": {"b": {"c": 1}}}', max_depth=3) == {"a": {"b": {"c": 1}}}


@pytest.mark.parametrize("body", [nested(4), b'{"a": {"b": {"c": {}}}}', b'[{"a": [{}]}]'])
def test_json_one_level_deeper_names_the_limit(body: bytes) -> None:
    with pytest.raises(JsonTooDeepError) as raised:
        parse_json(body, max_depth=3)

    assert raised.value.code == "JSON_TOO_DEEP"
    assert raised.value.status == 400
    assert "3 levels" in raised.value.message
    assert "FLOWJOBS_MAX_JSON_DEPTH" in raised.value.message


def test_a_yaml_alias_bomb_stops_at_the_value_budget() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    document: Any = yaml.safe_load(bomb)  # cheap: the lists are shared, not copied

    with pytest.raises(PayloadTooLargeError) as raised:
        check_json_bounds(document, max_depth=64, max_values=2 * len(bomb))

    assert "FLOWJOBS_MAX_BODY_BYTES" in raised.value.message


def test_flow_strings_and_arrays_over_their_limits_are_problems() -> None:
    limits = EngineLimits(max_string_length=10, max_array_length=3)
    document = {"name": "n" * 11, "nodes": [{"id": "a", "type": "end", "output": "[1,2,3,4]"}]}
    document["tags"] = ["x", "y", "z", "w"]

    problems = size_problems(document, limits)

    assert "name: a string of 11 characters, over the limit of 10 (max_string_length)" in problems
    assert "tags: an array of 4 items, over the limit of 3 (max_array_length)" in problems
    assert len(problems) == 2


def test_a_flow_at_its_limits_compiles_and_one_past_them_does_not() -> None:
    limits = EngineLimits(max_string_length=20, max_array_length=1)
    document = {"name": "n" * 20, "nodes": [{"id": "a", "type": "end", "output": "1"}]}
    assert compile_flow(document, limits=limits).name == "n" * 20

    document["nodes"].append({"id": "b", "type": "end", "output": "2"})
    with pytest.raises(FlowValidationError) as raised:
        compile_flow(document, limits=limits)

    assert any("(max_array_length)" in problem for problem in raised.value.problems)


@pytest.mark.parametrize(
    "body",
    [b'{"a": "\\ud800"}', b'["x\\udfff"]', '{"a": "\ud800"}'.encode("utf-8", "surrogatepass")],
    ids=["escape", "low-escape", "raw-bytes"],
)
def test_a_lone_surrogate_is_not_json(body: bytes) -> None:
    with pytest.raises(InvalidJsonError):
        parse_json(body, max_depth=8)


def test_plain_ascii_and_paired_escapes_are_json() -> None:
    assert parse_json(b'{"a": [1, "b"]}', max_depth=8) == {"a": [1, "b"]}
    assert parse_json(b'"\\ud83d\\ude00 \\u00fc"', max_depth=8) == "\U0001f600 ü"
