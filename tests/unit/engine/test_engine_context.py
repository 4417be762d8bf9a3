"""RunContext on its own."""

from __future__ import annotations

import asyncio

import pytest
from engine_testkit import JOB, Recorder

from flowjobs.engine import RunContext


def test_cancel_flag_and_raise() -> None:
    ctx = RunContext({"x": 1}, JOB)
    assert ctx.input == {"x": 1} and ctx.job is JOB
    assert not ctx.is_canceled()
    ctx.raise_if_canceled()  # no-op while not canceled
    ctx.cancel()
    assert ctx.is_canceled()
    with pytest.raises(asyncio.CancelledError):
        ctx.raise_if_canceled()


def test_progress_is_clamped_and_log_forwarded(recorder: Recorder) -> None:
    ctx = RunContext(None, JOB, on_log=recorder.on_log, on_progress=recorder.on_progress)
    ctx.progress(-0.5)
    ctx.progress(0.25, "quarter")
    ctx.progress(3)
    ctx.progress(float("nan"))
    ctx.log("hello", a=1)
    assert recorder.progress == [(0.0, None), (0.25, "quarter"), (1.0, None), (0.0, None)]
    assert recorder.logs == [("hello", {"a": 1})]


def test_without_callbacks_nothing_happens() -> None:
    ctx = RunContext(None, JOB)
    ctx.log("ignored", a=1)
    ctx.progress(0.5)
    assert not ctx.is_canceled()
