"""Handlers used by the engine tests (imported as ``engine_sample_handlers``)."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from flowjobs.engine import RunContext
from flowjobs.errors import FlowExecutionError

NOT_CALLABLE = 42
saw_cancel = threading.Event()


async def async_echo(ctx: RunContext) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"echo": ctx.input, "jobId": ctx.job.job_id, "mode": "async"}


def sync_echo(ctx: RunContext) -> dict[str, Any]:
    return {"echo": ctx.input, "thread": threading.get_ident(), "mode": "sync"}


def reporting(ctx: RunContext) -> str:
    ctx.log("halfway there", step=1)
    ctx.progress(0.5, "half")
    ctx.progress(7.0)  # clamped to 1.0
    return "reported"


async def failing(ctx: RunContext) -> None:
    raise ValueError("bad input value")


def failing_flow_error(ctx: RunContext) -> None:
    raise FlowExecutionError("custom failure", node_id="step-9", error_type="Custom")


def wait_for_cancel(ctx: RunContext) -> str:
    ctx.log("waiting for cancel")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if ctx.is_canceled():
            saw_cancel.set()
            return "canceled"
        time.sleep(0.005)
    return "not canceled"
