"""What a running job records: log lines (bounded), progress, trace changes."""

from __future__ import annotations

from flowjobs.engine import Trace
from flowjobs.worker.recorder import JobRecorder


def test_log_lines_are_capped_keeping_the_newest_and_counting_the_rest() -> None:
    recorder = JobRecorder(max_lines=3, trace=Trace())
    for n in range(5):
        recorder.log(f"line {n}", {"level": "warning", "nodeId": "n", "odd": object()})
    details = recorder.take()
    assert [line["message"] for line in details.logs] == ["line 2", "line 3", "line 4"]
    assert details.logs_dropped == 2
    assert details.logs[0]["level"] == "warning" and details.logs[0]["nodeId"] == "n"
    assert isinstance(details.logs[0]["odd"], str)  # not JSON: kept as its repr


def test_item_counts_win_over_fractions() -> None:
    recorder = JobRecorder(max_lines=10, trace=Trace())
    recorder.fraction(0.5, None)
    assert recorder.progress == {"done": 50, "total": 100}
    recorder.items(3, 40)
    recorder.fraction(1.0, None)
    assert recorder.progress == {"done": 3, "total": 40}


def test_changed_tracks_logs_and_trace_revisions() -> None:
    trace = Trace()
    recorder = JobRecorder(max_lines=10, trace=trace)
    assert recorder.changed  # never saved yet
    recorder.take()
    assert not recorder.changed
    handle = trace.start("n", "assign", "nodes[0]")
    trace.finish(handle, "ok", result={"x": 1})
    assert recorder.changed
    snapshot = recorder.take().trace
    assert snapshot is not None and snapshot["entries"][0]["nodeId"] == "n"
    assert not recorder.changed
