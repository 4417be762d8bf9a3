"""The worker registry's rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WorkerInfo:
    """A worker process's row in the registry. ``alive`` is derived by the
    manager: not stopped, and a heartbeat within three heartbeat intervals."""

    id: str
    host: str
    pid: int
    concurrency: int
    running: int
    started_at: datetime
    last_heartbeat_at: datetime
    stopped_at: datetime | None
    alive: bool = False
