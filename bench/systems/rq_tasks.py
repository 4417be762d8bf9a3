"""The functions RQ workers run (``systems.rq_tasks.noop`` ...)."""

from __future__ import annotations

import time

from probe import send


def noop() -> None:
    return None


def touch(tag: str) -> None:
    send(tag, "start")


def sleep(tag: str) -> None:
    send(tag, "start")
    time.sleep(600)
