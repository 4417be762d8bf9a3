"""The webhook dispatcher: one loop in every worker process that leases due
deliveries from the outbox and sends them.

Sends run concurrently, at most ``webhook_concurrency`` per process,
``webhook_concurrency_per_endpoint`` per webhook and
``webhook_concurrency_per_space`` per space, so a slow or dead receiver holds
a few slots and never blocks the others, and one space's many webhooks never
hold every slot; each claim serves the spaces with due deliveries in turn
(store/webhooks.py). A delivery is leased while it
is sent; if this process dies its lease runs out and any dispatcher takes it
again (at least once). The loop sleeps until the next delivery is due (a
retry time, or a lease running out), and wakes early when a job ends in this
process, on a PostgreSQL notification from another one, and when a send
finishes; ``webhook_poll_interval`` bounds every sleep, the safety net for
rows written by other processes on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import httpx

from flowjobs.config import Settings
from flowjobs.domain import DueDelivery
from flowjobs.errors import StoreError
from flowjobs.webhooks import WebhookDeliverer
from flowjobs.webhooks.sender import client

log = logging.getLogger("flowjobs.webhooks")
HOUSEKEEPING_INTERVAL = 3600.0  # seconds between prunes of old deliveries


class Dispatcher:
    def __init__(
        self,
        webhooks: WebhookDeliverer,
        settings: Settings,
        worker_id: str,
        wake: asyncio.Event,
        count_outcome: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.webhooks = webhooks
        self.count_outcome = count_outcome  # the webhook deliveries metric
        self.settings = settings
        self.worker_id = worker_id
        self.wake = wake
        self.sending: dict[asyncio.Task[None], DueDelivery] = {}
        self.per_webhook: Counter[str] = Counter()
        self.per_space: Counter[str] = Counter()
        self._stopping = asyncio.Event()
        self._loop_done = asyncio.Event()
        self._looping = False
        self._http: httpx.AsyncClient | None = None
        self._next_prune = 0.0

    async def run(self) -> None:
        """Claim and send until :meth:`stop`."""
        self._looping = True
        self._http = client(self.settings.webhook_timeout_seconds)
        try:
            while not self._stopping.is_set():
                self.wake.clear()
                pause = await self._guarded_step()
                if pause > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), pause)
        finally:
            self._loop_done.set()

    async def _guarded_step(self) -> float:
        try:
            await self._prune_when_due()
            return await self._step()
        except StoreError:
            log.exception("webhook claim failed", extra={"action": "webhook-claim"})
            return self.settings.webhook_poll_interval

    async def _prune_when_due(self) -> None:
        """Hourly, with FLOWJOBS_RETENTION_DAYS: forget finished deliveries
        older than the jobs kept (a dead receiver's pile stays bounded)."""
        days = self.settings.retention_days
        if days is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + HOUSEKEEPING_INTERVAL
        pruned = await self.webhooks.prune(timedelta(days=days))
        if pruned:
            log.info("webhook deliveries pruned", extra={"action": "prune", "deliveries": pruned})

    def _free(self) -> int:
        return self.settings.webhook_concurrency - len(self.sending)

    async def _step(self) -> float:
        """Claim what is due; answer how long to wait before looking again:
        until the next delivery is due (a retry time, or a dead dispatcher's
        lease running out), at most the poll interval."""
        poll = self.settings.webhook_poll_interval
        if self._free() <= 0:
            return poll  # a finished send wakes the loop
        due_in = await self.webhooks.seconds_until_due()
        if due_in is None:
            return poll
        if due_in > 0:
            return min(poll, due_in)
        claimed = await self._claim()
        # More may be due: look again at once. Nothing claimed although due
        # (every due webhook is at its bound here, or another dispatcher is
        # taking them): wait for a free slot or the poll.
        return 0 if claimed and self._free() > 0 else poll

    async def _claim(self) -> int:
        limit = self.settings.webhook_concurrency_per_endpoint
        room = {webhook: limit - count for webhook, count in self.per_webhook.items()}
        space_limit = self.settings.webhook_concurrency_per_space
        space_room = {space: space_limit - count for space, count in self.per_space.items()}
        claimed = await self.webhooks.claim(
            self.worker_id, limit=self._free(), room=room, space_room=space_room
        )
        if self._stopping.is_set():  # stopped while claiming: give them back unsent
            await self.webhooks.release(self.worker_id, claimed)
            return 0
        for due in claimed:
            self._launch(due)
        return len(claimed)

    def _launch(self, due: DueDelivery) -> None:
        task = asyncio.create_task(self._send(due), name=f"webhook:{due.id}")
        self.sending[task] = due
        self.per_webhook[due.webhook_id] += 1
        self.per_space[due.space_id] += 1
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        due = self.sending.pop(task)
        _decrement(self.per_webhook, due.webhook_id)
        _decrement(self.per_space, due.space_id)
        self.wake.set()  # a slot is free

    async def _send(self, due: DueDelivery) -> None:
        assert self._http is not None
        try:
            self.count_outcome(await self.webhooks.deliver(self._http, due, self.worker_id))
        except StoreError:
            # Not recorded: the lease runs out and the delivery is tried again.
            log.exception(
                "webhook record failed", extra={"action": "webhook-record", "deliveryId": due.id}
            )
        except Exception:  # the delivery boundary: one bad event must not stop the loop
            log.exception(
                "webhook attempt crashed", extra={"action": "webhook-crash", "deliveryId": due.id}
            )

    async def stop(self, grace: float) -> None:
        """Stop claiming; let sends in flight finish for up to ``grace``
        seconds, then cut them short and give their deliveries back."""
        self._stopping.set()
        self.wake.set()
        if self._looping:  # let a claim in progress finish first (it then sends nothing)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._loop_done.wait(), max(grace, 5.0))
        if self.sending:
            await asyncio.wait(list(self.sending), timeout=grace)
        cut = list(self.sending.items())
        for task, _ in cut:
            task.cancel()
        if cut:
            await asyncio.wait([task for task, _ in cut])
            try:
                await self.webhooks.release(self.worker_id, [due for _, due in cut])
            except StoreError:
                log.exception("webhook release failed", extra={"action": "webhook-release"})
        if self._http is not None:
            await self._http.aclose()


def _decrement(counter: Counter[str], name: str) -> None:
    counter[name] -= 1
    if counter[name] <= 0:
        del counter[name]
