"""Audits of solves: the ``X-Audit`` and ``X-Audit-Ttl`` headers, and the
record kept of an audited solve (docs/rules.md, "Audits")."""

from __future__ import annotations

import math
from dataclasses import dataclass

from flowjobs.errors import BadRequestError

DEFAULT_TTL_DAYS = 14.0  # DecisionRules: "Set to 14 days by default"
MAX_TTL_DAYS = 365.0


class InvalidAuditTtlError(BadRequestError):
    """X-Audit-Ttl must be a number of days."""

    code = "INVALID_AUDIT_TTL"


def audit_ttl_days(header: str | None) -> float:
    """Days an audit is kept: the header's positive number (at most a year),
    or 14 when it is absent."""
    if header is None or not header.strip():
        return DEFAULT_TTL_DAYS
    try:
        days = float(header)
    except ValueError:
        days = math.nan
    if not (math.isfinite(days) and 0 < days <= MAX_TTL_DAYS):
        raise InvalidAuditTtlError(
            f"X-Audit-Ttl must be a number of days above 0 and at most {MAX_TTL_DAYS:g}, "
            f"not {header[:40]!r}"
        )
    return days


@dataclass(frozen=True)
class AuditRequest:
    """What the headers ask: record the solve or not, kept how long."""

    wanted: bool
    ttl_days: float
    correlation_id: str

    @classmethod
    def from_headers(cls, audit: str | None, ttl_days: float, correlation_id: str) -> AuditRequest:
        return cls((audit or "").strip().lower() == "true", ttl_days, correlation_id)
