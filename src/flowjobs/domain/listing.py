"""Listing and watching jobs: filters, pages, change stamps, per-minute counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flowjobs.domain.jobs import JobRecord
from flowjobs.domain.states import JobState, JobStatusCode


@dataclass(frozen=True)
class JobFilter:
    """Which jobs of a space a listing shows; every field narrows it."""

    states: frozenset[JobState] = frozenset()  # empty: any state
    rule: str | None = None  # baseId or alias
    version: int | None = None
    since: datetime | None = None  # created_at >= since


@dataclass(frozen=True)
class JobPage:
    """One page of a listing, newest first."""

    jobs: list[JobRecord]
    next_cursor: str | None  # opaque; None on the last page


@dataclass(frozen=True)
class JobListQuery:
    """A listing as the store runs it: the filter resolved to columns, and the
    position after which the page starts (``created_at``, ``id``)."""

    space_id: str
    states: frozenset[JobState]
    base_id: str | None
    version: int | None
    since: datetime | None
    after: tuple[datetime, str] | None
    limit: int
    full: bool


@dataclass(frozen=True)
class JobStamp:
    """What changes when a job changes in a way a waiting client cares about."""

    state: JobState
    code: JobStatusCode
    updated_at: datetime
    progress: dict[str, int] | None


def stamp(job: JobRecord) -> JobStamp:
    return JobStamp(job.state, job.code, job.updated_at, job.progress)


@dataclass(frozen=True)
class FinishedMinute:
    """Jobs of a space that ended in one minute (UTC), for the dashboard's charts."""

    minute: datetime  # the minute's start
    finished: int  # jobs that reached a final state
    failed: int  # of those, ended in ERROR
    ran: int  # of those, jobs that had started running (they have a duration)
    run_seconds: float  # summed durations (claimedAt to endedAt) of the ones that ran
    longest_seconds: float  # the longest of those durations
