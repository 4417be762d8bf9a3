"""The clock: what time it is, aware and in UTC.

One function, so that every part stamps rows alike; the parts that need the
time (manager, catalog, rules, usage) import it from here. Pure: no flowjobs
imports.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
