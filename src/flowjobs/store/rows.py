"""Rows as domain records, and the small helpers every part of the store shares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Row

from flowjobs.domain import EndedJob, JobRecord, JobState, JobStatusCode, Space, Status
from flowjobs.store.tables import jobs

IDS_PER_QUERY = 500  # ids in one WHERE id IN (...)
# What an UPDATE that ends jobs returns, for the work done in its transaction.
ENDED_COLUMNS = (
    jobs.c.id,
    jobs.c.space_id,
    jobs.c.base_id,
    jobs.c.state,
    jobs.c.claimed_at,
    jobs.c.ended_at,
)


def utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def chunks(ids: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def ended(rows: Sequence[Row[Any]]) -> list[EndedJob]:
    """The jobs an UPDATE ... RETURNING ``ENDED_COLUMNS`` moved."""
    return [
        EndedJob(
            r.id,
            r.space_id,
            r.base_id,
            JobState(r.state),
            utc(r.claimed_at),
            utc(r.ended_at) or utc(r.claimed_at),  # type: ignore[arg-type]
        )
        for r in rows
    ]


def status_values(status: Status, now: datetime) -> dict[str, Any]:
    """The columns a move to ``status`` sets (a final one also ends the lease)."""
    values: dict[str, Any] = {
        "state": status.state.value,
        "code": status.code.value,
        "message": status.message,
        "updated_at": now,
    }
    if status.state in (JobState.COMPLETED, JobState.CANCELED, JobState.ERROR):
        values["ended_at"] = now
        values["lease_expires_at"] = None
    return values


def space_from_row(row: Row[Any]) -> Space:
    return Space(
        row.id,
        row.name,
        row.parallel_limit,
        row.priority,
        quota_seconds=row.quota_seconds,
        pay_as_you_go=bool(row.pay_as_you_go),
    )


def job_from_row(row: Row[Any] | Mapping[str, Any]) -> JobRecord:
    m = row._mapping if isinstance(row, Row) else row
    return JobRecord(
        id=m["id"],
        space_id=m["space_id"],
        base_id=m["base_id"],
        version=m["version"],
        rule_type=m["rule_type"],
        correlation_id=m["correlation_id"],
        input=m.get("input"),
        output=m.get("output"),
        error=m["error"],
        state=JobState(m["state"]),
        code=JobStatusCode(m["code"]),
        message=m["message"],
        priority=m["priority"],
        parallel_limit=m["parallel_limit"],
        environment_group=m["environment_group"],
        api_key_id=m["api_key_id"],
        api_key_name=m["api_key_name"],
        execution_limit_s=m["execution_limit_s"],
        created_at=utc(m["created_at"]),  # type: ignore[arg-type]
        updated_at=utc(m["updated_at"]),  # type: ignore[arg-type]
        claimed_at=utc(m["claimed_at"]),
        ended_at=utc(m["ended_at"]),
        worker_id=m["worker_id"],
        attempts=m["attempts"],
        progress=m.get("progress"),
        rerun_of=m.get("rerun_of"),
    )
