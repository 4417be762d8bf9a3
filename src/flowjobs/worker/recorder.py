"""What one running job produces besides its output: log lines, progress and
the engine's trace. Buffered in memory and saved every flush interval and at
the end, so a flow that logs in a tight loop does not write per line.

Log lines and the trace are kept for reading, so what could not be stored
in them is mended rather than refused (jsoncheck.scrub): a NUL or a lone
surrogate becomes U+FFFD, what nests too deep a note, what is not JSON its
``repr``. They can then never fail the write of the job's end."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from flowjobs.domain import JobDetails
from flowjobs.engine import Trace
from flowjobs.jsoncheck import MAX_DEPTH_CEILING, scrub

_KEPT_FIELDS = ("nodeId",)  # fields a truncated line keeps whatever their size


class JobRecorder:
    """A job's log lines are bounded in number (``max_lines``, oldest dropped)
    and each in size (``max_line_bytes``): a longer message is truncated and
    marked, so a flow that logs megabytes a line holds at most
    ``max_lines * max_line_bytes`` of logs (issue 17: 50 lines of 5 MB took
    the server from 261 MB to 3.2 GB)."""

    def __init__(
        self,
        *,
        max_lines: int,
        trace: Trace,
        max_line_bytes: int = 8192,
        max_depth: int = MAX_DEPTH_CEILING,
    ) -> None:
        self.trace = trace
        self.max_lines = max_lines
        self.max_line_bytes = max_line_bytes
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
            "message": truncated(message, self.max_line_bytes),
        }
        line |= self._extra_fields(fields)
        self.lines.append(scrub(line, max_depth=self.max_depth))
        if len(self.lines) > self.max_lines:  # keep the newest; count what went
            del self.lines[0]
            self.dropped += 1
        self._dirty = True

    def _extra_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The line's fields as JSON; past ``max_line_bytes`` together, only
        the node id is kept and the line says how many bytes of fields went."""
        extra = {k: _json_safe(v) for k, v in fields.items() if k != "level"}
        size = len(json.dumps(extra, default=str))
        if size <= self.max_line_bytes:
            return extra
        kept = {k: extra[k] for k in _KEPT_FIELDS if k in extra}
        return kept | {"fieldsDropped": size}

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


def truncated(message: str, max_bytes: int) -> str:
    """``message`` cut to at most ``max_bytes`` UTF-8 bytes (a character is
    never split), with a marker saying how many bytes were cut."""
    if len(message) * 4 <= max_bytes:  # fits whatever its characters
        return message
    data = message.encode("utf-8", "replace")
    if len(data) <= max_bytes:
        return message
    marker = f" ... [{len(data) - max_bytes} more bytes cut: job_log_line_max_bytes]"
    head = data[: max(0, max_bytes - len(marker))].decode("utf-8", "ignore")
    return head + marker


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value
