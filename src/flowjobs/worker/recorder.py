"""What one running job produces besides its output: log lines, progress and
the engine's trace. Buffered in memory and saved every flush interval and at
the end, so a flow that logs in a tight loop does not write per line.

Log lines and the trace are kept for reading, so what could not be stored
in them is mended rather than refused (jsoncheck.scrub): a NUL or a lone
surrogate becomes U+FFFD, what nests too deep a note, what is not JSON its
``repr``. They can then never fail the write of the job's end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from flowjobs.domain import JobDetails
from flowjobs.engine import Trace
from flowjobs.jsoncheck import MAX_DEPTH_CEILING, scrub


class JobRecorder:
    def __init__(self, *, max_lines: int, trace: Trace, max_depth: int = MAX_DEPTH_CEILING) -> None:
        self.trace = trace
        self.max_lines = max_lines
        self.max_depth = max_depth  # FLOWJOBS_MAX_JSON_DEPTH
        self.lines: list[dict[str, Any]] = []
        self.dropped = 0
        self.progress: dict[str, int] | None = None
        self._counted = False
        self._dirty = False
        self._saved_revision = -1
        self.saving = asyncio.Lock()  # the worker saves one snapshot at a time

    def log(self, message: str, fields: dict[str, Any]) -> None:
        line = {
            "time": datetime.now(UTC).isoformat(),
            "level": fields.get("level", "info"),
            "message": message,
        }
        line |= {k: v for k, v in fields.items() if k != "level"}
        self.lines.append(scrub(line, max_depth=self.max_depth))
        if len(self.lines) > self.max_lines:  # keep the newest; count what went
            del self.lines[0]
            self.dropped += 1
        self._dirty = True

    def items(self, done: int, total: int) -> None:
        self._counted = True
        self.progress = {"done": done, "total": total}
        self._dirty = True

    def fraction(self, fraction: float, _message: str | None) -> None:
        # A fraction (handlers, or nodes done of a flow) shows as percent so the
        # shape stays {done, total}; a foreach's item count takes precedence.
        if not self._counted:
            self.progress = {"done": round(fraction * 100), "total": 100}
            self._dirty = True

    @property
    def changed(self) -> bool:
        return self._dirty or self.trace.revision != self._saved_revision

    def take(self) -> JobDetails:
        """A snapshot to save; marks everything up to now as saved."""
        self._dirty = False
        self._saved_revision = self.trace.revision
        trace = scrub(self.trace.snapshot(), max_depth=self.max_depth)
        return JobDetails(trace=trace, logs=list(self.lines), logs_dropped=self.dropped)
