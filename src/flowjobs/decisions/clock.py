"""The current time as date functions and date cells see it.

NOW(), CURDATE(), CURTIME() and date cells without a date ("09:27 +02:00"
means today) read the clock here. It is a context variable, so a test (or a
caller replaying a solve) can fix the time for the code it runs, without any
global state leaking between threads or tasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Clock = Callable[[], dt.datetime]


def system_now() -> dt.datetime:
    """The system's time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


_CLOCK: ContextVar[Clock] = ContextVar("decisions_clock", default=system_now)


def now() -> dt.datetime:
    """The current instant, timezone-aware in UTC."""
    return _CLOCK.get()().astimezone(dt.UTC)


@contextmanager
def fixed_clock(instant: dt.datetime) -> Iterator[None]:
    """Within the block, the current instant is ``instant`` (which must be timezone-aware)."""
    if instant.tzinfo is None:
        raise ValueError("a fixed clock needs a timezone-aware instant")
    token = _CLOCK.set(lambda: instant)
    try:
        yield
    finally:
        _CLOCK.reset(token)
