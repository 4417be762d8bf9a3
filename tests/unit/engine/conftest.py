"""Engine test fixtures; puts this directory on sys.path so that the helper
modules (``engine_testkit``, ``engine_sample_handlers``) are importable."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from engine_testkit import JOB, Recorder  # noqa: E402

from flowjobs.engine import RunContext  # noqa: E402


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_ctx(recorder: Recorder) -> Any:
    def make(input_data: Any = None) -> RunContext:
        return RunContext(
            input_data,
            JOB,
            on_log=recorder.on_log,
            on_progress=recorder.on_progress,
            on_items=recorder.on_items,
        )

    return make


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Register the test-only ``probe`` node type; returns its stats."""
    from engine_test_nodes import ProbeNode, ProbeStats

    from flowjobs.engine.nodes import NODE_TYPES

    monkeypatch.setitem(NODE_TYPES, "probe", ProbeNode)
    ProbeStats.reset()
    return ProbeStats
