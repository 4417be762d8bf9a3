"""LocalEvents: what cancel requests tell an embedded (or listening) worker."""

from __future__ import annotations

from flowjobs.events import LocalEvents


def test_named_cancels_are_collected_until_taken() -> None:
    events = LocalEvents()
    events.notify_cancel(["a"])
    events.notify_cancel(["b", "a"])
    assert events.cancel_requested.is_set()
    assert events.take_cancels() == {"a", "b"}
    assert not events.cancel_requested.is_set()
    assert events.take_cancels() == set()  # nothing named since: the worker looks itself


def test_a_cancel_without_ids_means_any_job() -> None:
    events = LocalEvents()
    events.notify_cancel(["a"])
    events.notify_cancel(None)
    events.notify_cancel(["b"])  # still "any" until taken
    assert events.take_cancels() is None
    events.notify_cancel(["c"])
    assert events.take_cancels() == {"c"}


def test_too_many_named_cancels_become_any_job() -> None:
    """A process without a worker never takes them: the set stays bounded."""
    events = LocalEvents()
    for index in range(LocalEvents.MAX_CANCEL_IDS + 1):
        events.notify_cancel([str(index)])
    assert events.take_cancels() is None
