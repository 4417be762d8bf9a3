"""LocalEvents: signals between the API and a worker in the same process.

Pure asyncio: no flowjobs imports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class LocalEvents:
    """Signals between the API and a worker in the same process, so that an
    embedded worker wakes at once instead of waiting for its next poll."""

    MAX_CANCEL_IDS = 1000  # more named jobs than this: look them all up instead

    def __init__(self) -> None:
        self.job_waiting = asyncio.Event()
        self.cancel_requested = asyncio.Event()
        self.webhook_due = asyncio.Event()
        # What the cancel requests since the worker last looked named: job
        # ids, or "any job" (None) when one of them did not say which.
        self._cancel_ids: set[str] | None = set()

    def notify_waiting(self) -> None:
        self.job_waiting.set()

    def notify_cancel(self, job_ids: Iterable[str] | None = None) -> None:
        """Jobs were asked to cancel: these ones, or (None) any of them."""
        if job_ids is None or self._cancel_ids is None:
            self._cancel_ids = None
        else:
            self._cancel_ids.update(job_ids)
            if len(self._cancel_ids) > self.MAX_CANCEL_IDS:  # no worker here drains them
                self._cancel_ids = None
        self.cancel_requested.set()

    def take_cancels(self) -> set[str] | None:
        """The jobs named since the last call (None: any job may be canceling),
        and forget them; clears ``cancel_requested``."""
        self.cancel_requested.clear()
        named, self._cancel_ids = self._cancel_ids, set()
        return named

    def notify_webhook(self) -> None:
        """A job ended (its webhook events may be due) or a delivery was queued."""
        self.webhook_due.set()
