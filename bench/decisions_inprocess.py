"""In-process solve latency of decision tables: compiled form against row-by-row interpretation.

Measures p50/p99 of a single ``CompiledRule.solve`` (STANDARD strategy) over
``--inputs`` random inputs, for:

* a generated table of ``--rows`` rows (default 1,000): an equality column on a
  product code (one code per row, as price lists have), an ``IN`` column on
  regions, a ``BTW`` column on amounts, and results with a function
  (``{amount}*rate/100``) and a text with a variable;
* ``samples/Test_v2.json`` (48 rows, DecisionRules' own export).

Three ways of solving, each checked to give the same results:

* ``naive``: the "before": every solve reads the document and parses each cell
  of each row as it goes (what an interpreter without a compile step does);
* ``closures``: compiled cells (closures and constants), every row tested;
* ``compiled``: closures plus the hash index of the equality column (what
  ``compile_rule`` gives, the shipped path).

Also measures a bulk solve (``--bulk`` inputs against Test_v2, compiled, one
call per input as the Solver API's bulk does) end to end.

Usage: ``python bench/decisions_inprocess.py [--rows N] [--inputs N] [--bulk N] [--seed S]``.
The figures go to stdout as a table (and as JSON with ``--json``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowjobs.decisions import CompiledRule, compile_rule
from flowjobs.decisions.compiler import _Plan
from flowjobs.decisions.conditions import compile_condition
from flowjobs.decisions.evaluator import Evaluator
from flowjobs.decisions.outputs import compile_output, set_path
from flowjobs.decisions.parser import parse_ref
from flowjobs.decisions.scope import Scope
from flowjobs.decisions.table import read_table
from flowjobs.decisions.values import json_value

SAMPLES = Path(__file__).parents[1] / "tests" / "data" / "decisionrules"
REGIONS = ["EU", "US", "APAC", "LATAM", "MEA"]


def generated_table(rows: int, seed: int) -> dict[str, Any]:
    """A price list: product code (=), region (IN), amount (BTW) -> price, message."""
    rng = random.Random(seed)

    def condition(column: str, operator: str, value: Any) -> dict[str, Any]:
        scalar = {"type": "general", "operator": operator, "value": value}
        return {"type": "input", "column": column, "scalarCondition": scalar}

    def result(column: str, kind: str, value: str) -> dict[str, Any]:
        cell = {"type": kind, "value": value}
        return {"type": "output", "column": column, "outputScalarValue": cell}

    body = []
    for number in range(rows):
        regions = "|".join(rng.sample(REGIONS, rng.randint(1, 3)))
        low = rng.randint(0, 500)
        body.append(
            {
                "active": True,
                "cells": [
                    condition("product", "=", f"P{number:05d}"),
                    condition("region", "IN", regions),
                    condition("amount", "BTW", f"{low} AND {low + rng.randint(100, 1000)}"),
                    result("price", "function", f"{{amount}}*{rng.randint(50, 150)}/100"),
                    result("message", "common", f"tier {number % 7} for {{region}}"),
                ],
            }
        )

    def column(kind: str, column_id: str, variable: str) -> dict[str, Any]:
        key, var = (
            ("condition", "inputVariable")
            if kind == "input"
            else ("columnOutput", "outputVariable")
        )
        return {"type": kind, "columnId": column_id, key: {"name": column_id, var: variable}}

    return {
        "type": "decision-table",
        "decisionTable": {
            "columns": [
                column("input", "product", "product.code"),
                column("input", "region", "region"),
                column("input", "amount", "amount"),
                column("output", "price", "price"),
                column("output", "message", "message"),
            ],
            "rows": body,
        },
    }


def generated_inputs(rows: int, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed + 1)
    return [
        {
            "product": {"code": f"P{rng.randint(0, rows + rows // 10):05d}"},  # ~9% unknown codes
            "region": rng.choice(REGIONS),
            "amount": rng.randint(0, 1500),
        }
        for _ in range(count)
    ]


def test_v2_inputs(document: dict[str, Any], count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed + 2)
    pairs = [
        (r["cells"][0]["scalarCondition"]["value"], r["cells"][1]["scalarCondition"]["value"])
        for r in document["decisionTable"]["rows"]
    ]
    codes = ["SUMMER SALE", "BUSINESS SALE", "nothing"]
    inputs = []
    for _ in range(count):
        product, period = rng.choice(pairs)
        inputs.append({"productType": product, "period": period, "promoCode": rng.choice(codes)})
    return inputs


def naive_solve(document: dict[str, Any], data: Any) -> list[Any]:
    """The reference without a compile step: read the table and parse each cell as it goes."""
    table, _ = read_table(document)
    scope = Scope(data, table.variables)
    evaluator = Evaluator()
    results = []
    for row in table.rows:
        if not row.active or not _naive_row_matches(table, row, scope, evaluator):
            continue
        output: dict[str, Any] = {}
        row_scope = Scope(data, table.variables, output)
        for column in table.columns:
            cell = row.cells.get(column.column_id)
            if column.kind == "output" and cell is not None:
                value, _ = compile_output(cell)
                set_path(
                    output,
                    tuple(column.variable.split(".")),
                    json_value(value(row_scope, evaluator)),
                )
        results.append(output)
    return results


def _naive_row_matches(table: Any, row: Any, scope: Scope, evaluator: Evaluator) -> bool:
    for column in table.columns:
        cell = row.cells.get(column.column_id)
        if column.kind != "input" or cell is None:
            continue
        ref = parse_ref(column.variable)
        if not compile_condition(cell).test(scope.resolve(ref.path, ref.text), scope, evaluator):
            return False
    return True


def without_index(rule: CompiledRule) -> CompiledRule:
    """The same compiled rule with its hash index dropped: every row's closures are tested."""
    original = rule._plan

    def scan_plan(active: frozenset[int]) -> _Plan:
        plan = original(active)
        return _Plan(plan.all_rows, plan.all_rows, ())

    rule._plan = scan_plan  # type: ignore[method-assign]
    return rule


def percentiles(solve: Callable[[Any], Any], inputs: list[Any]) -> dict[str, float]:
    durations = []
    for data in inputs:
        start = time.perf_counter_ns()
        solve(data)
        durations.append(time.perf_counter_ns() - start)
    durations.sort()
    return {
        "p50_us": durations[len(durations) // 2] / 1000,
        "p99_us": durations[min(len(durations) - 1, int(len(durations) * 0.99))] / 1000,
        "mean_us": statistics.fmean(durations) / 1000,
    }


def measure_table(
    label: str, document: dict[str, Any], inputs: list[Any], naive_inputs: int
) -> list[dict[str, Any]]:
    compiled = compile_rule(document)
    scanning = without_index(compile_rule(document))
    for data in inputs[:200]:  # the three ways agree
        expected = naive_solve(document, data)
        assert compiled.solve(data) == expected == scanning.solve(data), data
    rows = []
    for way, solve, sample in (
        ("naive", lambda d: naive_solve(document, d), inputs[:naive_inputs]),
        ("closures", scanning.solve, inputs),
        ("compiled", compiled.solve, inputs),
    ):
        figures = percentiles(solve, sample)
        rows.append({"table": label, "way": way, "inputs": len(sample), **figures})
    return rows


def measure_bulk(document: dict[str, Any], inputs: list[Any]) -> dict[str, Any]:
    start = time.perf_counter()
    rule = compile_rule(document)
    compiled_at = time.perf_counter()
    cpu_start = time.process_time()
    results = [rule.solve(data) for data in inputs]
    cpu = time.process_time() - cpu_start
    done = time.perf_counter()
    assert len(results) == len(inputs)
    return {
        "inputs": len(inputs),
        "compile_ms": (compiled_at - start) * 1000,
        "solve_all_ms": (done - compiled_at) * 1000,
        "solve_all_cpu_ms": cpu * 1000,  # what the solves cost, whatever else runs beside
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument(
        "--naive-inputs", type=int, default=1000, help="inputs for the slow naive path"
    )
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    generated = generated_table(args.rows, args.seed)
    test_v2 = json.loads((SAMPLES / "Test_v2.json").read_text())
    start = time.perf_counter()
    compile_rule(generated)
    compile_ms = (time.perf_counter() - start) * 1000
    rows = measure_table(
        f"generated {args.rows} rows",
        generated,
        generated_inputs(args.rows, args.inputs, args.seed),
        args.naive_inputs,
    )
    rows += measure_table(
        "Test_v2.json (48 rows)",
        test_v2,
        test_v2_inputs(test_v2, args.inputs, args.seed),
        args.naive_inputs,
    )
    bulk = measure_bulk(test_v2, test_v2_inputs(test_v2, args.bulk, args.seed))
    if args.json:
        print(
            json.dumps(
                {"single": rows, "bulk_test_v2": bulk, "compile_generated_ms": compile_ms}, indent=2
            )
        )
        return
    print(f"{'table':<26} {'way':<9} {'inputs':>7} {'p50 us':>9} {'p99 us':>9} {'mean us':>9}")
    for row in rows:
        print(
            f"{row['table']:<26} {row['way']:<9} {row['inputs']:>7} "
            f"{row['p50_us']:>9.1f} {row['p99_us']:>9.1f} {row['mean_us']:>9.1f}"
        )
    print(f"compile of the generated table: {compile_ms:.1f} ms")
    print(
        f"bulk: {bulk['inputs']} inputs against Test_v2 in {bulk['solve_all_ms']:.1f} ms "
        f"({bulk['solve_all_cpu_ms']:.1f} ms CPU; + compile {bulk['compile_ms']:.1f} ms)"
    )


if __name__ == "__main__":
    main()
