"""The YAML body parser run by the parse process (api/bodyparse.py): its
time budget and its bounds (the process itself: tests/integration/
test_large_documents.py)."""

from __future__ import annotations

import pytest

from flowjobs.api.bodyparse import parse_yaml
from flowjobs.errors import InvalidJsonError, JsonTooDeepError, OverBudgetError


def many_items(count: int) -> bytes:
    return ("items:\n" + "".join(f"  - {{a: {i}, b: [1, 2]}}\n" for i in range(count))).encode()


def test_a_document_within_its_budget_parses() -> None:
    assert parse_yaml(many_items(3), 64, 60.0) == {
        "items": [{"a": 0, "b": [1, 2]}, {"a": 1, "b": [1, 2]}, {"a": 2, "b": [1, 2]}]
    }


def test_the_loader_stops_at_its_budget() -> None:
    with pytest.raises(OverBudgetError, match="FLOWJOBS_DOCUMENT_BUDGET_SECONDS"):
        parse_yaml(many_items(2000), 64, 0.0)


def test_bounds_and_syntax_are_reported() -> None:
    with pytest.raises(JsonTooDeepError):
        parse_yaml(b"a: " + b"[" * 70 + b"]" * 70, 64, 60.0)
    with pytest.raises(InvalidJsonError, match="not valid YAML"):
        parse_yaml(b"a: [1, 2", 64, 60.0)
