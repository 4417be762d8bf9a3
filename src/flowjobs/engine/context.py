"""The run context: what a running flow (or a handler) knows about its job."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from flowjobs.engine.limits import JobRef
from flowjobs.engine.trace import Trace

LogCallback = Callable[[str, dict[str, Any]], None]
ProgressCallback = Callable[[float, str | None], None]
ItemsCallback = Callable[[int, int], None]  # (iterations done, iterations in all)


class RunContext:
    """Input, job identity, cancellation flag, and log/progress sinks of one run.

    Handlers may call :meth:`log` and :meth:`progress` from any thread (sync
    handlers run in a worker thread); once :func:`run_flow` has bound the
    context to its event loop, the callbacks are always invoked on that loop's
    thread.

    :attr:`trace` records every node run (see :class:`Trace`); :meth:`log` is
    for user-facing lines (``log`` nodes and handlers), and :meth:`items`
    reports the progress of a ``foreach`` loop.
    """

    def __init__(
        self,
        input: Any,
        job: JobRef,
        *,
        on_log: LogCallback | None = None,
        on_progress: ProgressCallback | None = None,
        on_items: ItemsCallback | None = None,
        trace: Trace | None = None,
    ) -> None:
        self.input = input
        self.job = job
        self.trace = trace if trace is not None else Trace()
        self._on_log = on_log
        self._on_progress = on_progress
        self._on_items = on_items
        # A plain flag, not a threading.Event (a Condition and two locks, about
        # 1 kB for each running job): nothing waits on it, handlers in threads
        # only poll it, and a bool is read and written atomically.
        self._canceled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver callbacks on ``loop``'s thread (called by ``run_flow``)."""
        self._loop = loop

    def cancel(self) -> None:
        self._canceled = True

    def is_canceled(self) -> bool:
        return self._canceled

    def raise_if_canceled(self) -> None:
        if self._canceled:
            raise asyncio.CancelledError("the job was canceled")

    def log(self, message: str, **fields: Any) -> None:
        if self._on_log is not None:
            self._dispatch(self._on_log, message, fields)

    def progress(self, fraction: float, message: str | None = None) -> None:
        if self._on_progress is None:
            return
        value = float(fraction)
        value = 0.0 if math.isnan(value) else min(1.0, max(0.0, value))
        self._dispatch(self._on_progress, value, message)

    def items(self, done: int, total: int) -> None:
        """Report that ``done`` of ``total`` iterations of a loop have finished."""
        if self._on_items is not None:
            self._dispatch(self._on_items, done, total)

    def _dispatch(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or _running_loop() is loop:
            callback(*args)
        else:
            loop.call_soon_threadsafe(callback, *args)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
