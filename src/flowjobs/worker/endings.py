"""Job endings gathered into batches, one transaction each.

Every job whose flow ended hands its ending to the worker's one batcher and
awaits the state it ended in. There is no added delay: the first ending starts
a write at once, and the endings that come while a write runs (other jobs of
the same claim finish in the same moment) go together in the next one. So a
busy worker writes one transaction per handful of jobs instead of one (or two,
with the trace) per job, and an idle one writes each ending as soon as it
comes.

A write that fails is reported to every caller of its batch; a batch of more
than one is first written again one ending per transaction, side by side, so
that one ending the database refuses (an output it cannot store) cannot fail
the others. Callers
keep their own retries (``Worker._persist``); the lease and the reaper remain
the backstop for a database that stays down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace

from flowjobs.domain import JobEnding, JobState
from flowjobs.jsoncheck import MAX_DEPTH_CEILING, scrub, scrub_text

# Writes a batch; per ending, in order, the state its job ended in (None: not moved).
WriteBatch = Callable[[Sequence[JobEnding]], Awaitable[Sequence[JobState | None]]]
MAX_BATCH = 100  # endings in one transaction (and one NOTIFY payload of ids)

_Pending = tuple[JobEnding, "asyncio.Future[JobState | None]"]


class EndingBatcher:
    def __init__(self, write: WriteBatch, *, max_batch: int = MAX_BATCH) -> None:
        self._write = write
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._drain_task: asyncio.Task[None] | None = None
        self.batches = 0  # transactions written (for tests and logs)

    async def end(self, ending: JobEnding) -> JobState | None:
        """Write ``ending`` with whatever else is queued; the state its job
        ended in, or None if its worker no longer held it."""
        future: asyncio.Future[JobState | None] = asyncio.get_running_loop().create_future()
        self._queue.append((storable(ending), future))
        if self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain(), name="endings")
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._write_batch(batch)
        finally:
            self._drain_task = None
            for _, future in self._queue:  # only left when the drain was cancelled
                future.cancel()
            self._queue.clear()

    async def _write_batch(self, batch: list[_Pending]) -> None:
        self.batches += 1
        try:
            states = list(await self._write([ending for ending, _ in batch]))
            if len(states) != len(batch):  # a broken writer must not leave callers waiting
                raise RuntimeError(f"{len(states)} states for {len(batch)} endings")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            if len(batch) == 1:
                _answer(batch[0][1], exc)
                return
            # Each alone, side by side (as before batching): the one ending at
            # fault fails, the others go through.
            await asyncio.gather(*(self._write_batch([item]) for item in batch))
            return
        for (_, future), state in zip(batch, states, strict=True):
            _answer(future, state)


def _answer(future: asyncio.Future[JobState | None], result: JobState | Exception | None) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)


def storable(ending: JobEnding) -> JobEnding:
    """``ending`` with its status message and error mended (jsoncheck.scrub):
    a flow's error message may quote a value holding a NUL or a lone
    surrogate, which must not fail the write (or every retry of it)."""
    status = ending.status
    if status is not None and scrub_text(status.message) != status.message:
        status = replace(status, message=scrub_text(status.message))
    error = None if ending.error is None else scrub(ending.error, max_depth=MAX_DEPTH_CEILING)
    return replace(ending, status=status, error=error)
