"""Usage of a space in a month: execution seconds used and billed against its
quota, and its jobs by state. The seconds themselves are recorded by the store
in the transaction that ends each job (``store/usage.py``); the quota is
enforced at start by the manager."""

from __future__ import annotations

import re

from flowjobs.clock import utcnow
from flowjobs.domain import UsageReport, month_bounds, month_of
from flowjobs.errors import InvalidMonthError, SpaceNotFoundError
from flowjobs.store import SqlStore

_MONTH = re.compile(r"^\d{4}-\d{2}$")


def parse_month(text: str) -> str:
    """``text`` if it is a real month written ``YYYY-MM``."""
    if _MONTH.match(text):
        try:
            month_bounds(text)
        except ValueError:
            pass
        else:
            return text
    raise InvalidMonthError(f"month must be YYYY-MM (UTC), e.g. 2026-11, not {text[:20]!r}")


class UsageService:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    async def report(self, space_ref: str, month: str | None = None) -> UsageReport:
        """The usage of a space (id or name) in ``month`` (default: this month, UTC)."""
        month = month_of(utcnow()) if month is None else parse_month(month)
        space = await self.store.find_space(space_ref)
        if space is None:
            raise SpaceNotFoundError(f"No space with id or name {space_ref[:200]!r}")
        created_from, created_before = month_bounds(month)
        return UsageReport(
            space=space,
            month=month,
            usage=await self.store.month_usage(space.id, month),
            job_counts=await self.store.month_job_counts(space.id, created_from, created_before),
        )
