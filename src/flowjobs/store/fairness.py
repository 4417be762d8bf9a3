"""Which due webhook deliveries a dispatcher takes: within its room per
webhook and per space, the spaces served in turn (store/webhooks.py's claim).
Pure."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any


def fit(
    candidates: Sequence[Any],
    room: Mapping[str, int],
    default_room: int,
    limit: int,
    space_room: Mapping[str, int] | None = None,
    default_space_room: int | None = None,
) -> list[Any]:
    """Candidates this dispatcher has room for: at most ``room`` (or
    ``default_room``) more per webhook and ``space_room`` (or
    ``default_space_room``; None: no bound) more per space, ``limit`` in all.
    Spaces are served in turn, each its oldest due first, so that one space
    with many due deliveries cannot fill every free slot before another
    space's first one (issue 17, point 5)."""
    left = dict(room)
    space_left = dict(space_room or {})
    queues: dict[str, deque[Any]] = {}
    for row in candidates:  # oldest due first; each space's queue keeps that order
        queues.setdefault(row.space_id, deque()).append(row)
    picked: list[Any] = []
    while queues and len(picked) < limit:
        for space_id in list(queues):  # one round: one delivery of each space
            row = next_with_room(queues[space_id], left, default_room)
            free = space_left.get(space_id, default_space_room)
            if row is None or (free is not None and free <= 0):
                del queues[space_id]  # nothing more of this space fits now
                continue
            left[row.webhook_id] = left.get(row.webhook_id, default_room) - 1
            if free is not None:
                space_left[space_id] = free - 1
            picked.append(row)
            if len(picked) == limit:
                break
    return picked


def next_with_room(queue: deque[Any], left: Mapping[str, int], default_room: int) -> Any:
    """The queue's first row whose webhook has room (rows before it are dropped)."""
    while queue:
        row = queue.popleft()
        if left.get(row.webhook_id, default_room) > 0:
            return row
    return None
