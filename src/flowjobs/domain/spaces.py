"""Spaces and their API keys."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class KeyKind(enum.StrEnum):
    SOLVER = "solver"  # Jobs API
    MANAGEMENT = "management"  # management endpoints


@dataclass(frozen=True)
class Space:
    id: str
    name: str
    parallel_limit: int
    priority: int
    quota_seconds: float | None = None  # free execution seconds a month; None: unlimited
    pay_as_you_go: bool = False  # past the quota, jobs still start (and are billed)


@dataclass(frozen=True)
class ApiKey:
    id: str
    space_id: str
    name: str
    kind: KeyKind


@dataclass(frozen=True)
class KeyListing:
    """A key as ``flowjobs key list`` shows it: never its secret nor its hash."""

    key: ApiKey
    created_at: datetime
    revoked_at: datetime | None
