"""The decision tables exported from DecisionRules (samples/) compile unchanged and solve
with the outputs their columns give."""

from __future__ import annotations

import json
from typing import Any

import pytest
from dr_testkit import SAMPLES

from flowjobs.decisions import compile_rule, validate_rule

TABLES = [
    "Bank_Solver_v1",
    "Benefit_Program_Sample_v1",
    "Clients_v1",
    "loan_sorter_v1",
    "loan_type_v1",
    "Plant_Items_Example_v1",
    "Segment_v1",
    "Test_v2",
    "Solve_Example_v1",
]


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_text())
    return loaded


@pytest.mark.parametrize("name", TABLES)
def test_every_sample_table_is_valid(name: str) -> None:
    assert [str(p) for p in validate_rule(sample(name))] == []
    compile_rule(sample(name))


CASES: list[tuple[str, dict[str, Any], str, list[Any]]] = [
    (
        "Bank_Solver_v1",
        {"loan": 1000, "maxClientLoan": 2000, "tax": 1.5},
        "STANDARD",
        [{"totalPay": 1500, "message": ""}, {"totalPay": "", "message": "not enough income"}],
    ),
    (
        "Bank_Solver_v1",
        {"loan": 3000, "maxClientLoan": 2000, "tax": 1.5},
        "STANDARD",
        [{"totalPay": "", "message": "not enough income"}],
    ),
    (
        "loan_sorter_v1",
        {"loan": 100, "maxClientLoan": 2000, "fee": 1.5},
        "FIRST_MATCH",
        [{"finalLoan": 150, "message": ""}],
    ),
    (
        "Benefit_Program_Sample_v1",
        {"price": 100, "benefitCode": "SUMMER"},
        "STANDARD",
        [
            {"finalPrice": 70, "message": "discount\u00a030%"},
            {"finalPrice": 100, "message": "no discount"},
        ],
    ),
    (
        "Benefit_Program_Sample_v1",
        {"price": 100, "benefitCode": "NONE"},
        "STANDARD",
        [{"finalPrice": 100, "message": "no discount"}],
    ),
    (
        "Clients_v1",
        {"client": {"age": 30, "salary": 1500}},
        "STANDARD",
        [{"client": {"trustworthy": True, "Hazard": 2, "maxLoan": 72000}}],
    ),
    (
        "Clients_v1",
        {"client": {"age": "70", "salary": "700"}},
        "STANDARD",
        [{"client": {"trustworthy": False, "Hazard": 5, "maxLoan": 0}}],
    ),
    (
        "Clients_v1",
        {"client": {"age": 12, "salary": 0}},
        "STANDARD",
        [{"client": {"trustworthy": False, "Hazard": 5, "maxLoan": 0}}],
    ),
    (
        "loan_type_v1",
        {"loanType": "housing", "loan": 20000},
        "STANDARD",
        [{"tax": 1.1, "maxLoan": 30000}, {"tax": 1.15, "maxLoan": 100000}],
    ),
    (
        "loan_type_v1",
        {"loanType": "housing", "loan": 20000},
        "FIRST_MATCH",
        [{"tax": 1.1, "maxLoan": 30000}],
    ),
    (
        "loan_type_v1",
        {"loanType": "housing", "loan": 20000},
        "ARRAY",
        [{"tax": [1.1, 1.15], "maxLoan": [30000, 100000]}],
    ),
    ("loan_type_v1", {"loanType": "boat", "loan": 1}, "STANDARD", []),
    (
        "Plant_Items_Example_v1",
        {"group": "book"},
        "STANDARD",
        [{"name": "Plant Lovers", "price": 470, "available": True}],
    ),
    (
        "Plant_Items_Example_v1",
        {"group": "plant"},
        "ARRAY",
        [
            {
                "name": ["Monstera", "Begonia", "Maranta"],
                "price": [460, 590, 390],
                "available": [True, False, True],
            }
        ],
    ),
    ("Segment_v1", {"segmentCode": "WEU"}, "STANDARD", [{"segmentName": "Western Europe"}]),
    ("Segment_v1", {"segmentCode": "LA"}, "STANDARD", [{"segmentName": "Latin America"}]),
    ("Segment_v1", {"segmentCode": "CZ"}, "STANDARD", [{"segmentName": "Other"}]),
    (
        "Test_v2",
        {"productType": "basic_1", "period": "month", "promoCode": "SUMMER SALE"},
        "STANDARD",
        [{"prices": {"crudePrice": 8, "finalPrice": 5.6}, "message": "30% discount"}],
    ),
    (
        "Test_v2",
        {"productType": "basic_1", "period": "year", "promoCode": "nothing"},
        "STANDARD",
        [{"prices": {"crudePrice": 72, "finalPrice": 72}, "message": "no matching promo code"}],
    ),
]


@pytest.mark.parametrize(("name", "data", "strategy", "expected"), CASES)
def test_sample_solves(name: str, data: dict[str, Any], strategy: str, expected: Any) -> None:
    assert compile_rule(sample(name)).solve(data, strategy=strategy) == expected


def test_test_v2_gives_one_row_per_matching_input() -> None:
    rule = compile_rule(sample("Test_v2"))
    evaluated = rule.solve({}, strategy="EVALUATE_ALL")
    assert len(evaluated) == 48
    assert not any(row["_match"] for row in evaluated)
    for row in sample("Test_v2")["decisionTable"]["rows"]:
        cells = row["cells"]
        product, period = cells[0]["scalarCondition"]["value"], cells[1]["scalarCondition"]["value"]
        found = rule.solve({"productType": product, "period": period, "promoCode": "SUMMER SALE"})
        assert found, (product, period)


def test_the_management_swaggers_example_rule_solves() -> None:
    swagger = json.loads((SAMPLES / "management-swagger.json").read_text())
    table = swagger["definitions"]["DecisionTable"]["example"]
    document = {
        "decisionTable": table,
        "userVariables": [
            {"name": "PromoCode", "value": "SUMMER SALE"},
            {"name": "PromoDiscount", "value": 30},
        ],
    }
    assert validate_rule(document) == []
    assert compile_rule(document).solve(
        {"productType": "basic", "period": "month", "promoCode": "SUMMER SALE"}
    ) == [{"prices": {"crudePrice": 8, "finalPrice": 5.6}, "message": "30% discount"}]


def test_the_table_inside_the_rule_flow_export_is_valid() -> None:
    exported = json.loads((SAMPLES / "Import-RuleFlow-example.json").read_text())
    tables = [rule for rule in exported if rule["type"] == "decision-table"]
    assert len(tables) == 1
    assert validate_rule(tables[0]) == []
    result = compile_rule(tables[0]).solve(
        {"productType": "basic", "period": "month", "promoCode": "SUMMER SALE"}
    )
    assert result and all("prices" in row for row in result)
