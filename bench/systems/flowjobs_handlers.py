"""Code-first flows of the bench (``handler: systems.flowjobs_handlers:...``):
they report to the bench's probe when they start (and stop)."""

from __future__ import annotations

import asyncio
from typing import Any

from probe import send


async def touch(ctx: Any) -> dict[str, bool]:
    send(ctx.input.get("tag", ""), "start")
    return {"ok": True}


async def sleep(ctx: Any) -> dict[str, bool]:
    tag = ctx.input.get("tag", "")
    send(tag, "start")
    try:
        await asyncio.sleep(600)
    finally:
        send(tag, "stop")
    return {"ok": True}
