"""Flow documents from request bodies: JSON, or YAML with a YAML content
type, parsed off the event loop within a size and a time budget.

PyYAML parses about 60 KB a second of a document of many small items, so a
1 MB YAML body held the event loop (the API and the embedded worker) for
62 s (issue 17). A thread is not enough: the loader makes hundreds of
thousands of objects, and CPython's cyclic garbage collector, run on their
account, stops every thread of the process for 100 to 500 ms at a time. So
a YAML body is refused unread past ``max_yaml_bytes`` and parsed in a
process of its own (``python -m flowjobs.api.bodyparse``, which imports
nothing of the server), by a loader that stops itself once
``document_budget_seconds`` have gone; a process that has not answered
``BACKSTOP_SECONDS`` later is killed. Only the plain result comes back.
A large JSON body is bounds-checked in a thread (``json.loads`` itself is
C and fast).
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from typing import Any

from flowjobs.api.bodyparse import over_budget
from flowjobs.api.deps import parse_json
from flowjobs.config import Settings
from flowjobs.errors import FlowjobsError, PayloadTooLargeError

INLINE_JSON_BYTES = 64 * 1024  # smaller JSON bodies are parsed on the loop (well under 1 ms)
# The parse stops itself at its budget; its process is killed only if it has
# not answered this much later (a start on a loaded machine, say).
BACKSTOP_SECONDS = 10.0


async def parse_document(body: bytes, content_type: str, settings: Settings) -> Any:
    """The body as a flow document (4xx problems for bodies that are not one)."""
    if "yaml" not in content_type:
        if len(body) <= INLINE_JSON_BYTES:
            return parse_json(body, max_depth=settings.max_json_depth)
        return await asyncio.to_thread(parse_json, body, max_depth=settings.max_json_depth)
    if len(body) > settings.max_yaml_bytes:
        raise PayloadTooLargeError(
            f"The YAML request body is larger than {settings.max_yaml_bytes} bytes "
            "(FLOWJOBS_MAX_YAML_BYTES); send it as JSON, or smaller"
        )
    return await parse_yaml_in_process(
        body, settings.max_json_depth, settings.document_budget_seconds
    )


async def parse_yaml_in_process(body: bytes, max_depth: int, budget_seconds: float) -> Any:
    """``body`` parsed as YAML by a process of its own; the problem it found
    is raised here."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "flowjobs.api.bodyparse",
        str(max_depth),
        str(budget_seconds),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        output, _ = await asyncio.wait_for(
            process.communicate(body), budget_seconds + BACKSTOP_SECONDS
        )
    except TimeoutError:
        raise over_budget(budget_seconds) from None
    finally:
        if process.returncode is None:  # timed out, or this request was cancelled
            process.kill()
            await process.wait()
    if process.returncode != 0 or not output:  # killed (out of memory, say)
        raise PayloadTooLargeError(
            "The YAML request body could not be parsed; send it as JSON, or smaller"
        )
    # Our own child's output: pickle keeps YAML's dates and binary values,
    # which the flow checks then report (JSON would have lost them).
    status, value = pickle.loads(output)
    if status == "error" and isinstance(value, FlowjobsError):
        raise value
    return value
