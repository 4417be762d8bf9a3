"""The benchmark's result table (bench/report.py): medians, n/a rows and
flowjobs' ratio to each other system."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPORT = Path(__file__).parents[2] / "bench" / "report.py"


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def rows(report: ModuleType, higher_is_better: bool) -> list:
    metric = "start throughput (jobs/s)"
    return [
        report.Row(
            metric, higher_is_better, "flowjobs PostgreSQL", "2 workers", True, [90, 100, 120]
        ),
        report.Row(metric, higher_is_better, "flowjobs SQLite", "1 process", True, [40, 50, 60]),
        report.Row(metric, higher_is_better, "procrastinate", "2 workers", False, [20, 25, 30]),
        report.Row(metric, higher_is_better, "RQ", "2 workers", False, [], "n/a: cannot"),
    ]


def test_median_min_max_and_both_flowjobs_ratios(report: ModuleType) -> None:
    table = report.markdown(rows(report, True)).splitlines()

    peer = next(line for line in table if "procrastinate" in line)
    assert [c.strip() for c in peer.strip("|").split("|")] == [
        "start throughput (jobs/s)", "↑", "procrastinate", "2 workers",
        "25.0", "20.0", "30.0", "3", "PG 4.00x, SQLite 2.00x",
    ]  # fmt: skip
    own = next(line for line in table if "flowjobs PostgreSQL" in line)
    assert own.rstrip(" |").endswith("| 3")  # no ratio of flowjobs to itself


def test_lower_is_better_is_marked_and_ratio_is_still_flowjobs_over_peer(
    report: ModuleType,
) -> None:
    table = report.markdown(rows(report, False))

    line = next(line for line in table.splitlines() if "procrastinate" in line)
    assert "| ↓ |" in line
    assert "PG 4.00x" in line


def test_a_metric_that_does_not_apply_says_why_and_gets_no_ratio(report: ModuleType) -> None:
    line = next(line for line in report.markdown(rows(report, True)).splitlines() if "RQ" in line)

    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[4] == "n/a: cannot"
    assert cells[8] == ""


def test_ratio_of_a_zero_median_is_left_out(report: ModuleType) -> None:
    assert report.ratio(5.0, 0.0) is None
    assert report.ratio(5.0, 2.0) == 2.5


def test_numbers_group_thousands_and_keep_small_ones_readable(report: ModuleType) -> None:
    assert [report.number(v) for v in (4612.4, 123.4, 12.34, 1.234, 0.554, 0.00131)] == [
        "4,612",
        "123",
        "12.3",
        "1.23",
        "0.55",
        "0.0013",
    ]
