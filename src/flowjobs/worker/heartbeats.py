"""Lease heartbeats from a thread of their own.

A running job keeps its lease only while its worker renews it. Renewed from
the event loop, a lease was only as safe as the loop was free: one flow or
request holding the loop past the lease (a handler that blocks, a slow
parse) made every job of the process end ERROR/ZOMBIE_PROCESS although the
process was alive (issue 17). Here the renewals run in a dedicated thread,
with its own event loop and its own database connection, so nothing on the
main loop can starve them. What a renewal learns (jobs to cancel, leases
lost) is handed back to the main loop, which acts on it when it can.

A job stuck for good still ends: the reaper ends a RUNNING job past its
deadline whatever its lease (JOB_TIMEOUT), and a process that dies stops
its thread too, so its leases run out as before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Protocol

from flowjobs.domain import Heartbeat
from flowjobs.errors import StoreError

log = logging.getLogger("flowjobs.worker")


class Renewer(Protocol):
    async def renew(self, worker_id: str, job_ids: list[str]) -> Heartbeat: ...

    async def close(self) -> None: ...


class LeaseThread:
    """Every ``interval`` seconds, renews the leases of the jobs that
    ``running_jobs`` names, and hands each heartbeat to ``on_beat`` on the
    main loop (``loop``)."""

    def __init__(
        self,
        *,
        worker_id: str,
        interval: float,
        open_renewer: Callable[[], Renewer],
        running_jobs: Callable[[], list[str]],
        on_beat: Callable[[Heartbeat], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.worker_id = worker_id
        self.interval = interval
        self._open_renewer = open_renewer
        self._running_jobs = running_jobs
        self._on_beat = on_beat
        self._main_loop = loop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"leases-{worker_id}", daemon=True)
        self.beats = 0  # renewals done (for tests and debugging)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop renewing and wait for the thread (blocking: call it off the loop)."""
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.run(self._beat_until_stopped())

    async def _beat_until_stopped(self) -> None:
        renewer = self._open_renewer()
        try:
            # threading.Event.wait blocks this thread's loop, which runs
            # nothing else: a plain wait is the simplest interruptible sleep.
            while not self._stop.wait(self.interval):
                await self._beat(renewer)
        finally:
            await renewer.close()

    async def _beat(self, renewer: Renewer) -> None:
        # A copy of the main loop's dict of running jobs: list() of a dict
        # with str keys runs in C under the GIL, so it never sees it half
        # changed.
        job_ids = self._running_jobs()
        if not job_ids:
            return
        try:
            beat = await renewer.renew(self.worker_id, job_ids)
        except StoreError:
            log.exception(
                "heartbeat failed", extra={"action": "heartbeat", "worker": self.worker_id}
            )
            return
        self.beats += 1
        if beat.canceling or beat.lost:
            try:
                self._main_loop.call_soon_threadsafe(self._on_beat, beat)
            except RuntimeError:  # the main loop has closed: nothing left to stop
                return
