"""Code-first flows for the tests (``handler: support.handlers:...``)."""

from __future__ import annotations

import asyncio
from typing import Any


async def double(ctx: Any) -> dict[str, Any]:
    ctx.progress(0.5, "halfway")
    await asyncio.sleep(0)
    return {"doubled": 2 * ctx.input["n"]}


def tracked(ctx: Any) -> dict[str, int]:
    """Count how many tracked jobs run at once, in a file shared by every worker
    process (flock), so a test can check a space's parallel limit from outside."""
    import fcntl
    import time
    from pathlib import Path

    path = Path(ctx.input["counter"])

    def bump(delta: int) -> int:
        with path.open("a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            lines = handle.read().split()
            current = int(lines[-1]) if lines else 0
            handle.write(f"{current + delta}\n")
            return current + delta

    now = bump(+1)
    time.sleep(float(ctx.input.get("seconds", 0.1)))
    bump(-1)
    return {"concurrent": now}


async def swallows_one_cancel(ctx: Any) -> dict[str, Any]:
    """A handler (or a library under it) that swallows the first
    CancelledError it gets and goes on as if nothing happened."""
    swallowed = 0
    while True:
        try:
            await asyncio.sleep(float(ctx.input.get("seconds", 30)))
            return {"swallowed": swallowed}
        except asyncio.CancelledError:
            swallowed += 1
            if swallowed > 1:
                raise


async def never_stops_on_cancel(ctx: Any) -> dict[str, Any]:
    """A handler that swallows every CancelledError; it ends by itself after
    ``seconds`` only so that a test's event loop can close."""
    loop = asyncio.get_running_loop()
    until = loop.time() + float(ctx.input.get("seconds", 5))
    swallowed = 0
    while loop.time() < until:
        try:
            await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            swallowed += 1
    return {"swallowed": swallowed}


async def hog_the_loop(ctx: Any) -> dict[str, float]:
    """Block the event loop on purpose (an async handler that never awaits),
    as a careless handler or a slow parse would: nothing else on the loop
    runs meanwhile."""
    import time

    seconds = float(ctx.input["seconds"])
    time.sleep(seconds)
    return {"blocked": seconds}
