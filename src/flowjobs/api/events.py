"""Server-Sent Events of one job: ``state`` and ``progress`` events carrying
the Job JSON, comment lines to keep idle connections open, and a closing
``end`` event once the job is final."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator

from fastapi.sse import format_sse_event

from flowjobs.domain import FINAL_STATES, JobRecord
from flowjobs.schemas import Job

KEEPALIVE = format_sse_event(comment="keep-alive")
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering


def event_kind(before: JobRecord | None, after: JobRecord) -> str:
    """``state`` when the status moved (and for the first event), else ``progress``."""
    if before is None or (before.state, before.code, before.message) != (
        after.state,
        after.code,
        after.message,
    ):
        return "state"
    return "progress"


def job_event(kind: str, job: JobRecord) -> bytes:
    return format_sse_event(event=kind, data_str=Job.from_record(job).model_dump_json())


def end_event(job: JobRecord) -> bytes:
    data = json.dumps({"jobId": job.id, "state": job.state.value})
    return format_sse_event(event="end", data_str=data)


async def _next(changes: AsyncIterator[JobRecord]) -> JobRecord | None:
    return await anext(changes, None)


async def with_keepalive(
    changes: AsyncGenerator[JobRecord, None], every: float
) -> AsyncGenerator[JobRecord | None, None]:
    """The items of ``changes``, and None whenever ``every`` seconds pass
    without one. Closes ``changes`` when done or abandoned."""
    pending: asyncio.Task[JobRecord | None] | None = None
    try:
        while True:
            pending = pending or asyncio.create_task(_next(changes))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield None
                continue
            job, pending = pending.result(), None
            if job is None:
                return
            yield job
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        await changes.aclose()


async def job_stream(
    first: JobRecord, changes: AsyncGenerator[JobRecord, None], keepalive: float
) -> AsyncIterator[bytes]:
    """The wire bytes of a job's event stream, starting with ``first`` (the
    job as it was when the stream was opened)."""
    yield job_event("state", first)
    last = first
    async with contextlib.aclosing(with_keepalive(changes, keepalive)) as items:
        async for job in items:
            if last.state in FINAL_STATES:
                break
            if job is None:
                yield KEEPALIVE
                continue
            yield job_event(event_kind(last, job), job)
            last = job
    yield end_event(last)
