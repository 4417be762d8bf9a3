"""jsoncheck: what can be stored as JSON on either database, and the mending
of data kept only for reading."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from flowjobs.domain import JobEnding, execution_error
from flowjobs.engine import load_flow_file
from flowjobs.errors import (
    FlowValidationError,
    InvalidJsonError,
    JsonTooDeepError,
    UnsupportedCharacterError,
)
from flowjobs.jsoncheck import problem, require_storable, scrub, scrub_text
from flowjobs.worker.endings import storable


def nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_json_data_within_the_limit_passes() -> None:
    value = {"a": [1, 2.5, "x", None, True, {"b": "é😀"}], "n": 10**100, 1: "int key"}
    assert problem(value, max_depth=64) is None
    assert problem(nested(64), max_depth=64) is None


def test_nesting_past_the_limit_is_named_with_a_short_path() -> None:
    found = problem({"a": nested(300)}, max_depth=64)
    assert found is not None and found.kind == "depth"
    assert found.detail == "nests arrays and objects deeper than 64 levels"
    assert found.path.startswith("$.a[0][0]") and "more)" in found.path
    assert len(found.path) < 80


@pytest.mark.parametrize(
    ("value", "kind", "path"),
    [
        ({"a": [1, {"b": "x\x00y"}]}, "nul", "$.a[1].b"),
        ({"k\x00": 1}, "nul", "$.k\ufffd"),
        (["ok", "\ud800"], "surrogate", "$[1]"),
        ({"\udfff": 1}, "surrogate", "$.\ufffd"),
        ("\x00", "nul", "$"),
        ([math.nan], "number", "$[0]"),
        ({"x": -math.inf}, "number", "$.x"),
        ([10**5000], "number", "$[0]"),
        ({"d": date(2024, 1, 1)}, "type", "$.d"),
        ({"s": {1, 2}}, "type", "$.s"),
        ({(1, 2): "tuple key"}, "type", "$"),
    ],
)
def test_what_cannot_be_stored_is_named_with_its_path(value: Any, kind: str, path: str) -> None:
    found = problem(value, max_depth=64)
    assert found is not None
    assert (found.kind, found.path) == (kind, path)


def test_request_data_is_refused_with_a_400_per_kind() -> None:
    with pytest.raises(JsonTooDeepError, match="deeper than 8 levels"):
        require_storable(nested(9), max_depth=8)
    with pytest.raises(UnsupportedCharacterError, match=r"The input holds a NUL .* \(at \$.a\)"):
        require_storable({"a": "\x00"}, max_depth=8, what="The input")
    with pytest.raises(InvalidJsonError, match="lone surrogate"):
        require_storable("\ud800", max_depth=8)
    require_storable({"fine": [1]}, max_depth=8)


def test_scrub_mends_text_depth_and_non_json_values() -> None:
    value = {"k\x00": ["a\ud800", nested(5)], "n": math.nan, "ok": 1}
    mended = scrub(value, max_depth=3)
    assert mended == {
        "k\ufffd": ["a\ufffd", ["(nested deeper than 3 levels: left out)"]],
        "n": "nan",
        "ok": 1,
    }
    assert problem(mended, max_depth=3) is None
    assert scrub_text("plain") == "plain"


def test_an_ending_with_a_nul_in_its_message_and_error_is_mended() -> None:
    status = execution_error("boom \x00 \ud800")
    ending = JobEnding("job", "worker", status, error={"message": status.message})

    mended = storable(ending)

    assert mended.status is not None and mended.status.message == "boom \ufffd \ufffd"
    assert mended.error == {"message": "boom \ufffd \ufffd"}
    assert storable(JobEnding("job", "worker", None)).status is None


def test_a_flow_file_with_a_huge_integer_is_a_flow_problem(tmp_path: Path) -> None:
    for name, text in (("big.yaml", f"n: {'9' * 5000}\n"), ("big.json", f'{{"n": {"9" * 5000}}}')):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(FlowValidationError) as raised:
            load_flow_file(path)
        assert raised.value.problems == [
            f"{path}: an integer has more than 4300 digits (the most read)"
        ]
