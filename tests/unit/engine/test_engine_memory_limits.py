"""Issue 17 point 4: a run's memory is bounded. An expression's value, a
variable and the run's live data (variables and node results) each have a
cap; passing one fails the job with an error type naming the limit, and no
onError catches it."""

from __future__ import annotations

from typing import Any

import pytest

from flowjobs.engine import EngineLimits, compile_flow, run_flow
from flowjobs.engine.expressions import Expression, ExpressionLimitError
from flowjobs.engine.sizes import approximate_size
from flowjobs.errors import FlowExecutionError

SMALL = EngineLimits(
    max_expression_result_bytes=100_000, max_variable_bytes=50_000, max_job_data_bytes=200_000
)
DOUBLING = '($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $f("ab", 40))'


def flow_of(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "memory", "nodes": list(nodes)}


async def run_failing(document: dict[str, Any], make_ctx: Any) -> FlowExecutionError:
    flow = compile_flow(document, limits=SMALL)
    with pytest.raises(FlowExecutionError) as info:
        await run_flow(flow, make_ctx(), limits=SMALL)
    return info.value


def test_string_doubling_stops_at_the_result_cap_not_the_timeout() -> None:
    # Before: the string doubled on until the 1 s timeout (1 GB in the issue).
    limits = EngineLimits(max_expression_result_bytes=1_000_000, expression_timeout_ms=60_000)
    with pytest.raises(ExpressionLimitError) as info:
        Expression(DOUBLING).evaluate({}, limits)
    assert info.value.code == "LIMIT_EXPRESSION_RESULT_SIZE"
    assert "max_expression_result_bytes" in str(info.value)


def test_a_large_list_value_is_capped() -> None:
    with pytest.raises(ExpressionLimitError):
        Expression("[1..1000000]").evaluate({}, SMALL)


def test_a_large_object_built_from_small_strings_is_capped() -> None:
    source = '$merge([1..5000].{"k" & $string($): "0123456789012345678901234567890123456789"})'
    with pytest.raises(ExpressionLimitError) as info:
        Expression(source).evaluate({}, SMALL)
    assert info.value.code == "LIMIT_EXPRESSION_RESULT_SIZE"


def test_ordinary_values_pass() -> None:
    value = Expression('{"a": [1, 2, 3], "b": $pad("x", 1000)}').evaluate({}, SMALL)
    assert value["a"] == [1, 2, 3] and len(value["b"]) == 1000


async def test_an_expression_over_its_cap_fails_the_job_with_its_code(make_ctx: Any) -> None:
    error = await run_failing(flow_of({"id": "grow", "type": "end", "output": DOUBLING}), make_ctx)
    assert (error.error_type, error.node_id) == ("LIMIT_EXPRESSION_RESULT_SIZE", "grow")


async def test_a_variable_over_its_cap_fails_the_job(make_ctx: Any) -> None:
    big = {"id": "big", "type": "assign", "set": {"pad": '$pad("", 60000, "x")'}}
    error = await run_failing(flow_of(big), make_ctx)
    assert (error.error_type, error.node_id) == ("LIMIT_VARIABLE_SIZE", "big")
    assert "max_variable_bytes" in error.message and '"pad"' in error.message


async def test_onerror_does_not_catch_a_limit(make_ctx: Any) -> None:
    big = {
        "id": "big",
        "type": "assign",
        "set": {"pad": '$pad("", 60000, "x")'},
        "onError": {"goto": "after"},
    }
    after = {"id": "after", "type": "end", "output": '"survived"'}
    error = await run_failing(flow_of(big, after), make_ctx)
    assert error.error_type == "LIMIT_VARIABLE_SIZE"


async def test_many_variables_together_pass_the_job_cap(make_ctx: Any) -> None:
    # Each variable is under its cap (40,000 of 50,000); six of them are not
    # under the job's (200,000): the 6 x 200 MB at a small scale.
    nodes = [
        {"id": f"v{i}", "type": "assign", "set": {f"pad{i}": '$pad("", 40000, "x")'}}
        for i in range(6)
    ]
    error = await run_failing(flow_of(*nodes), make_ctx)
    assert error.error_type == "LIMIT_JOB_DATA_SIZE"
    assert "max_job_data_bytes" in error.message


async def test_replacing_a_variable_frees_its_share(make_ctx: Any) -> None:
    # The same variable reassigned many times holds one value, not the sum.
    nodes = [
        {"id": f"v{i}", "type": "assign", "set": {"pad": '$pad("", 30000, "x")'}} for i in range(10)
    ]
    nodes.append({"id": "done", "type": "end", "output": "$length(vars.pad)"})
    flow = compile_flow(flow_of(*nodes), limits=SMALL)
    # the node results (each {"pad": ...}) are live too: stay under the job cap
    limits = EngineLimits(
        max_expression_result_bytes=100_000, max_variable_bytes=50_000, max_job_data_bytes=400_000
    )
    assert await run_flow(flow, make_ctx(), limits=limits) == 30000


def test_approximate_size_stops_at_its_bound() -> None:
    assert approximate_size("abc", 100) == 5
    assert 20 < approximate_size({"a": [1, 2, "xyz"]}, 100) < 40
    many = ["x" * 100] * 1_000  # one string shared: each item still counts
    assert 10_000 < approximate_size(many, 10_000) <= 10_000 + 200
    huge = ["x"] * 1_000_000  # over the bound by its length alone: not walked
    assert approximate_size(huge, 10_000) == 1_000_002
