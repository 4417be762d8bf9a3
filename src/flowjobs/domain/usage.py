"""Usage: execution seconds of a space per calendar month (UTC)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flowjobs.domain.spaces import Space
from flowjobs.domain.states import JobState


def month_of(moment: datetime) -> str:
    """The calendar month (UTC) of a moment, as usage is keyed: ``"2026-11"``."""
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """First instant of ``"YYYY-MM"`` and of the month after it, in UTC."""
    start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    following = start.replace(year=start.year + (start.month == 12), month=start.month % 12 + 1)
    return start, following


@dataclass(frozen=True)
class MonthUsage:
    """A space's execution seconds in one month. ``billed <= used``: seconds
    past the quota without pay-as-you-go are used but not billed."""

    used_seconds: float = 0.0
    billed_seconds: float = 0.0


@dataclass(frozen=True)
class UsageReport:
    """What ``GET /api/space/usage`` and ``flowjobs usage`` show for a month."""

    space: Space
    month: str
    usage: MonthUsage
    job_counts: dict[JobState, int]  # jobs created in the month, every state present

    @property
    def remaining_seconds(self) -> float | None:
        """Free seconds left this month; None when the quota is unlimited."""
        if self.space.quota_seconds is None:
            return None
        return max(0.0, self.space.quota_seconds - self.usage.used_seconds)
