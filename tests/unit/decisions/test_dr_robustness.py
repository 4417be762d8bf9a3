"""Bad documents and bad inputs give problems or 4xx errors, never a crash.

Seeded, bounded mutations of the sample tables: any JSON value put anywhere in a
document either validates, or is refused with problems; a compiled table solves
any input to a result or a 4xx error.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from dr_testkit import SAMPLES

from flowjobs.decisions import RuleInvalid, compile_rule, validate_rule
from flowjobs.errors import FlowjobsError

NAMES = ["Test_v2", "Clients_v1", "Segment_v1", "Bank_Solver_v1", "Plant_Items_Example_v1"]
ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    -1.5,
    "",
    "{",
    "}",
    "{a.}",
    "((((",
    "SUM(",
    "[1,2",
    '"',
    "1|2|",
    " AND ",
    "BTW",
    [],
    {},
    [None],
    {"functionName": 3},
    {"functionName": "SUM", "parameters": "x"},
    {"functionName": "NOPE", "parameters": []},
    "x" * 300,
    "{" * 50,
    "\u0000",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, inner in value.items():
            found.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(_paths(inner, (*prefix, index)))
    return found


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def test_mutated_documents_are_validated_or_refused_never_crash() -> None:
    rng = random.Random(20)
    for name in NAMES:
        original = json.loads((SAMPLES / f"{name}.json").read_text())
        paths = _paths(original)
        for _ in range(40):
            document = copy.deepcopy(original)
            for _ in range(rng.randint(1, 3)):
                document = _replace(
                    document, rng.choice(_paths(document) or paths), rng.choice(ODD_VALUES)
                )
            problems = validate_rule(document)
            assert isinstance(problems, list)
            try:
                rule = compile_rule(document)
            except RuleInvalid as error:
                assert error.status == 400 and error.rule_problems == problems
                continue
            assert problems == []
            _solve_anything(rule, rng)


def _solve_anything(rule: Any, rng: random.Random) -> None:
    for data in (
        {},
        None,
        [],
        "text",
        {"a": ODD_VALUES},
        {k: rng.choice(ODD_VALUES) for k in "xyz"},
    ):
        for strategy in ("STANDARD", "FIRST_MATCH", "ARRAY", "EVALUATE_ALL", "bogus"):
            try:
                result = rule.solve(data, strategy=strategy)
            except FlowjobsError as error:
                assert 400 <= error.status < 500
                continue
            assert isinstance(result, list)
            json.dumps(result)  # every result is JSON
