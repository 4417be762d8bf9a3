"""The batched end path without a database: the worker's EndingBatcher (a
fake write) and the pure parts of store/ending_sql.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from flowjobs import domain
from flowjobs.domain import JobDetails, JobEnding, JobState
from flowjobs.errors import StoreError
from flowjobs.store import ending_sql
from flowjobs.worker.endings import EndingBatcher


class FakeWrite:
    """Records each batch; completes a job unless its id is in ``refuse``.
    While ``gate`` is unset, writes wait on it (a transaction in flight)."""

    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.batches: list[list[str]] = []
        self.refuse = refuse
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, endings: Sequence[JobEnding]) -> list[JobState | None]:
        ids = [e.job_id for e in endings]
        self.batches.append(ids)
        await self.gate.wait()
        if self.refuse & set(ids):
            raise StoreError("database error: DataError")
        return [JobState.COMPLETED if e.status else None for e in endings]


def _ending(job_id: str, status: domain.Status | None = domain.COMPLETED) -> JobEnding:
    return JobEnding(job_id, "w", status, output=[job_id])


async def test_endings_of_one_moment_are_one_batch_and_each_caller_gets_its_own_state() -> None:
    write = FakeWrite()
    batcher = EndingBatcher(write)
    states = await asyncio.gather(
        batcher.end(_ending("a")), batcher.end(_ending("b", None)), batcher.end(_ending("c"))
    )
    assert write.batches == [["a", "b", "c"]]
    assert states == [JobState.COMPLETED, None, JobState.COMPLETED]


async def test_endings_that_come_during_a_write_go_together_in_the_next() -> None:
    write = FakeWrite()
    write.gate.clear()
    batcher = EndingBatcher(write)
    first = asyncio.create_task(batcher.end(_ending("a")))
    while not write.batches:  # the first write has begun and waits
        await asyncio.sleep(0)
    later = [asyncio.create_task(batcher.end(_ending(i))) for i in "bcd"]
    await asyncio.sleep(0)
    write.gate.set()
    await asyncio.gather(first, *later)
    assert write.batches == [["a"], ["b", "c", "d"]]


async def test_a_batch_is_at_most_max_batch_endings() -> None:
    write = FakeWrite()
    batcher = EndingBatcher(write, max_batch=2)
    await asyncio.gather(*(batcher.end(_ending(i)) for i in "abcde"))
    assert write.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_one_refused_ending_fails_alone_and_the_others_are_written() -> None:
    write = FakeWrite(refuse=frozenset({"b"}))
    batcher = EndingBatcher(write)
    results = await asyncio.gather(
        *(batcher.end(_ending(i)) for i in "abc"), return_exceptions=True
    )
    assert results[0] is JobState.COMPLETED and results[2] is JobState.COMPLETED
    assert isinstance(results[1], StoreError)
    assert write.batches == [["a", "b", "c"], ["a"], ["b"], ["c"]]


async def test_after_a_failure_the_next_ending_starts_a_new_write() -> None:
    write = FakeWrite(refuse=frozenset({"a"}))
    batcher = EndingBatcher(write)
    with pytest.raises(StoreError):
        await batcher.end(_ending("a"))
    assert await batcher.end(_ending("b")) is JobState.COMPLETED
    assert write.batches == [["a"], ["b"]]


async def test_a_caller_cancelled_while_waiting_does_not_stop_the_others() -> None:
    write = FakeWrite()
    write.gate.clear()
    batcher = EndingBatcher(write)
    impatient = asyncio.create_task(batcher.end(_ending("a")))
    patient = asyncio.create_task(batcher.end(_ending("b")))
    while not write.batches:
        await asyncio.sleep(0)
    impatient.cancel()
    write.gate.set()
    assert await patient is JobState.COMPLETED
    assert impatient.cancelled()
    assert write.batches == [["a", "b"]]  # the write went on without its caller


# ---- store/ending_sql.py, the pure parts --------------------------------------


def test_batch_rows_are_in_id_order_and_leave_out_what_stays_unchanged() -> None:
    error = {"code": "X"}
    rows = ending_sql.batch_rows(
        [
            JobEnding("b", "w", domain.execution_error("boom"), error=error),
            JobEnding("a", "w", None, progress={"done": 1, "total": 2}),
        ]
    )
    assert rows == [
        {"id": "a", "worker_id": "w", "progress": {"done": 1, "total": 2}},
        {
            "id": "b",
            "worker_id": "w",
            "state": "ERROR",
            "code": domain.execution_error("boom").code.value,
            "message": "boom",
            "error": error,
        },
    ]


def test_an_ending_must_be_final() -> None:
    with pytest.raises(ValueError, match="final"):
        ending_sql.batch_rows([JobEnding("a", "w", domain.RUNNING)])


def test_details_rows_take_save_details_shape_and_skip_endings_without_details() -> None:
    details = JobDetails(trace={"t": 1}, logs=[{"message": "x"}], logs_dropped=3)
    rows = ending_sql.details_rows(
        [JobEnding("b", "w", None, details=details), JobEnding("a", "w", None)]
    )
    assert rows == [
        {"job_id": "b", "trace": {"t": 1}, "logs": {"lines": [{"message": "x"}], "dropped": 3}}
    ]


def test_encode_gives_json_and_refuses_what_is_not() -> None:
    assert json.loads(ending_sql.encode([{"id": "a", "output": [1.5, "é"]}])) == [
        {"id": "a", "output": [1.5, "é"]}
    ]
    with pytest.raises(StoreError, match="not JSON"):
        ending_sql.encode([{"output": {object()}}])


def test_outcomes_tell_an_end_as_asked_from_a_cancel_that_came_first() -> None:
    shutdown = domain.system_canceled("bye")
    endings = [
        JobEnding("done", "w", domain.COMPLETED),
        JobEnding("raced", "w", domain.COMPLETED),
        JobEnding("released", "w", shutdown),
        JobEnding("released-late", "w", shutdown),
        JobEnding("stopped", "w", None),
        JobEnding("untouched", "w", domain.COMPLETED),
    ]
    canceled = domain.USER_CANCELED

    def row(job_id: str, status: domain.Status) -> SimpleNamespace:
        return SimpleNamespace(id=job_id, state=status.state.value, code=status.code.value)

    moved = [
        row("done", domain.COMPLETED),
        row("raced", canceled),
        row("released", shutdown),
        row("released-late", canceled),
        row("stopped", canceled),
    ]
    assert ending_sql.outcomes(endings, moved, canceled) == {
        "done": domain.COMPLETED,
        "raced": canceled,
        "released": shutdown,
        "released-late": canceled,
        "stopped": canceled,
    }


def test_statements_are_built_once() -> None:
    for sqlite in (True, False):
        assert ending_sql.update_statement(sqlite) is ending_sql.update_statement(sqlite)
        assert ending_sql.details_statement(sqlite) is ending_sql.details_statement(sqlite)


async def test_a_writer_answering_the_wrong_count_fails_its_callers_instead_of_hanging() -> None:
    async def broken(endings: Sequence[JobEnding]) -> list[JobState | None]:
        return []

    batcher = EndingBatcher(broken)
    results = await asyncio.gather(
        batcher.end(_ending("a")), batcher.end(_ending("b")), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results)
