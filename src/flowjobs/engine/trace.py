"""The execution trace of one run: which node ran where, when, and how it ended.

The trace is bounded: past ``max_entries`` the oldest finished entries of loop
iterations (paths containing ``foreach[``) are folded into per-node summaries
first, then the oldest finished entries of any kind. Nothing is dropped
silently: ``totalEntries`` always counts every entry ever started. An entry
whose ``endedAt`` is null is still running, or was interrupted by a cancel.
"""

from __future__ import annotations

import heapq
import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from flowjobs.engine.limits import EngineLimits

Outcome = Literal["ok", "error", "caught"]

# A path segment that marks a loop iteration (see RunState paths).
LOOP_MARKER = "foreach["

_CUT_MARK = "..."


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _cut(text: str, limit: int) -> str:
    # surrogatepass: a flow's value may hold a lone surrogate (the worker's
    # recorder mends it before the trace is stored); it must not end the run
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore") + _CUT_MARK


def _json_text(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # circular, or nested past Python's stack
        return f"({type(value).__name__} that cannot be written as JSON)"


class Trace:
    """Trace entries of one run; used on the event loop's thread only."""

    def __init__(self, max_entries: int = 500, excerpt_bytes: int = 500) -> None:
        self.max_entries = max(1, max_entries)
        self.excerpt_bytes = max(0, excerpt_bytes)
        self.revision = 0
        self._entries: dict[int, dict[str, Any]] = {}  # by handle, in start order
        self._clocks: dict[int, float] = {}  # monotonic start of each open entry
        self._loop_done: list[int] = []  # heap of finished loop-iteration handles
        self._other_done: list[int] = []  # heap of other finished handles
        self._summarised: dict[str, dict[str, Any]] = {}
        self._folded = 0
        self._next_handle = 0

    def start(self, node_id: str, node_type: str, path: str) -> int:
        """Record that a node started; returns the handle for :meth:`finish`."""
        handle = self._next_handle
        self._next_handle += 1
        self._entries[handle] = {
            "nodeId": node_id,
            "type": node_type,
            "path": path,
            "startedAt": _now(),
            "endedAt": None,
            "durationMs": None,
            "outcome": None,
            "result": None,
            "error": None,
        }
        self._clocks[handle] = time.monotonic()
        self.revision += 1
        self._shrink()
        return handle

    def finish(
        self,
        handle: int,
        outcome: Outcome,
        result: Any = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        """Record how the entry ``handle`` ended; a second call is ignored."""
        entry = self._entries.get(handle)
        started = self._clocks.pop(handle, None)
        if entry is None or started is None:
            return
        entry["endedAt"] = _now()
        entry["durationMs"] = round((time.monotonic() - started) * 1000, 3)
        entry["outcome"] = outcome
        if outcome == "ok":
            entry["result"] = _cut(_json_text(result), self.excerpt_bytes)
        if error is not None:
            entry["error"] = self._error_excerpt(error)
        done = self._loop_done if LOOP_MARKER in entry["path"] else self._other_done
        heapq.heappush(done, handle)
        self.revision += 1
        self._shrink()

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: ``entries``, ``summarised`` per node id, ``totalEntries``."""
        entries = []
        for entry in self._entries.values():
            copied = dict(entry)
            if copied["error"] is not None:
                copied["error"] = dict(copied["error"])
            entries.append(copied)
        return {
            "entries": entries,
            "summarised": {key: dict(value) for key, value in self._summarised.items()},
            "totalEntries": len(self._entries) + self._folded,
        }

    def _error_excerpt(self, error: dict[str, Any]) -> dict[str, Any]:
        copied = dict(error)
        message = copied.get("message")
        if isinstance(message, str):
            copied["message"] = _cut(message, self.excerpt_bytes)
        return copied

    def _shrink(self) -> None:
        while len(self._entries) > self.max_entries:
            heap = self._loop_done or self._other_done
            if not heap:
                return  # only running entries are left; fold them once they finish
            self._fold(heapq.heappop(heap))

    def _fold(self, handle: int) -> None:
        entry = self._entries.pop(handle)
        summary = self._summarised.setdefault(
            entry["nodeId"],
            {"count": 0, "errors": 0, "firstStartedAt": None, "lastEndedAt": None},
        )
        summary["count"] += 1
        if entry["outcome"] != "ok":
            summary["errors"] += 1
        first = summary["firstStartedAt"]
        if first is None or entry["startedAt"] < first:
            summary["firstStartedAt"] = entry["startedAt"]
        last = summary["lastEndedAt"]
        if last is None or entry["endedAt"] > last:
            summary["lastEndedAt"] = entry["endedAt"]
        self._folded += 1

    @classmethod
    def from_limits(cls, limits: EngineLimits) -> Trace:
        """A trace sized by ``trace_max_entries`` and ``trace_excerpt_bytes``."""
        return cls(limits.trace_max_entries, limits.trace_excerpt_bytes)
