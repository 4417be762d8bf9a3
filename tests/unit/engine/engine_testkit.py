"""Helpers shared by the engine tests."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Any

from flowjobs.engine import JobRef

JOB = JobRef(job_id="job-1", correlation_id="corr-1", space_id="space-1")


@dataclass
class Recorder:
    """Collects what a RunContext forwards to its callbacks."""

    logs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    progress: list[tuple[float, str | None]] = field(default_factory=list)
    items: list[tuple[int, int]] = field(default_factory=list)
    threads: set[int] = field(default_factory=set)

    def on_log(self, message: str, fields: dict[str, Any]) -> None:
        self.threads.add(threading.get_ident())
        self.logs.append((message, fields))

    def on_progress(self, fraction: float, message: str | None) -> None:
        self.threads.add(threading.get_ident())
        self.progress.append((fraction, message))

    def on_items(self, done: int, total: int) -> None:
        self.threads.add(threading.get_ident())
        self.items.append((done, total))

    def messages(self) -> list[str]:
        return [message for message, _ in self.logs]


def flow_of(*nodes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A minimal flow document with ``nodes``."""
    return {"name": "test flow", "nodes": list(nodes), **extra}


def other_tasks() -> set[Any]:
    """The event loop's tasks other than the current one."""
    return {task for task in asyncio.all_tasks() if task is not asyncio.current_task()}
