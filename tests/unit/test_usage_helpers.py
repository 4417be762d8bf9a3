"""Months, the seconds of ended jobs, quotas and the usage shape (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import typer

from flowjobs.catalog import checked_quota
from flowjobs.cli import parse_quota
from flowjobs.domain import (
    EndedJob,
    JobState,
    MonthUsage,
    Space,
    UsageReport,
    month_bounds,
    month_of,
)
from flowjobs.errors import InvalidMonthError, InvalidQuotaError
from flowjobs.schemas import SpaceUsage
from flowjobs.store.usage import seconds_by_space_month
from flowjobs.usage import parse_month

T0 = datetime(2026, 3, 31, 23, 0, tzinfo=UTC)


def test_month_of_is_the_utc_month() -> None:
    east = timezone(timedelta(hours=5))
    assert month_of(datetime(2026, 4, 1, 2, 0, tzinfo=east)) == "2026-03"
    assert month_of(datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)) == "2026-12"


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        ("2026-02", datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_month_bounds(month: str, start: datetime, end: datetime) -> None:
    assert month_bounds(month) == (start, end)


def test_parse_month_takes_real_months_only() -> None:
    assert parse_month("2026-11") == "2026-11"
    for bad in ("2026-13", "2026-00", "2026-1", "26-11", "2026/11", "0000-01", "9999-12", ""):
        with pytest.raises(InvalidMonthError):
            parse_month(bad)


def _ended(space: str, claimed: datetime | None, seconds: float) -> EndedJob:
    end = (claimed or T0) + timedelta(seconds=seconds)
    return EndedJob("j", space, "r", JobState.COMPLETED, claimed, end)


def test_seconds_are_summed_per_space_and_month_of_the_end() -> None:
    ended = [
        _ended("a", T0, 30),
        _ended("a", T0, 3600.5),  # ends in April
        _ended("a", T0 + timedelta(minutes=1), 1.25),
        _ended("b", T0, 2),
        _ended("b", None, 99),  # never ran
        _ended("b", T0, -1),  # a clock step backwards counts nothing, never less
    ]

    assert seconds_by_space_month(ended) == {
        ("a", "2026-03"): 31.25,
        ("a", "2026-04"): 3600.5,
        ("b", "2026-03"): 2.0,
    }


def test_quotas_are_zero_or_more_finite_seconds() -> None:
    assert checked_quota(None) is None
    assert checked_quota(0) == 0
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(InvalidQuotaError):
            checked_quota(bad)
    assert parse_quota("unlimited") is None
    assert parse_quota(" Unlimited ") is None
    assert parse_quota("3600") == 3600.0
    for bad in ("-5", "lots", "inf", "nan", ""):
        with pytest.raises(typer.BadParameter):
            parse_quota(bad)


def _report(quota: float | None, used: float, billed: float) -> UsageReport:
    space = Space("s-1", "acme", 4, 0, quota_seconds=quota, pay_as_you_go=False)
    counts = dict.fromkeys(JobState, 0) | {JobState.COMPLETED: 3}
    return UsageReport(space, "2026-11", MonthUsage(used, billed), counts)


def test_remaining_seconds_never_go_below_zero_and_are_null_when_unlimited() -> None:
    assert _report(100, 30, 30).remaining_seconds == 70
    assert _report(100, 130, 100).remaining_seconds == 0
    assert _report(None, 130, 130).remaining_seconds is None


def test_space_usage_shape() -> None:
    body = SpaceUsage.from_report(_report(100, 12.34567, 12.34567)).model_dump(mode="json")

    assert body == {
        "spaceId": "s-1",
        "spaceName": "acme",
        "month": "2026-11",
        "usedSeconds": 12.346,
        "billedSeconds": 12.346,
        "quotaSeconds": 100,
        "remainingSeconds": 87.654,
        "payAsYouGo": False,
        "jobCounts": {
            "WAITING": 0,
            "RUNNING": 0,
            "COMPLETED": 3,
            "CANCELING": 0,
            "CANCELED": 0,
            "ERROR": 0,
        },
    }
