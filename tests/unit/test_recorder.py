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


def test_a_long_log_line_is_truncated_and_marked() -> None:
    # Issue 17 point 4: 50 lines of 5 MB took the server to 3.2 GB.
    recorder = JobRecorder(max_lines=50, trace=Trace(), max_line_bytes=1000)
    for _ in range(50):
        recorder.log("x" * 5_000_000, {"level": "info", "nodeId": "pad"})
    lines = recorder.take().logs
    assert len(lines) == 50
    for line in lines:
        assert len(line["message"].encode()) <= 1000
        assert line["message"].startswith("xxx")
        assert "4999000 more bytes cut: job_log_line_max_bytes" in line["message"]
        assert line["nodeId"] == "pad"


def test_truncation_never_splits_a_character() -> None:
    recorder = JobRecorder(max_lines=5, trace=Trace(), max_line_bytes=300)
    recorder.log("é" * 1000, {})
    message = recorder.take().logs[0]["message"]
    assert len(message.encode()) <= 300 and message.startswith("éé")


def test_short_lines_are_kept_whole() -> None:
    recorder = JobRecorder(max_lines=5, trace=Trace(), max_line_bytes=300)
    recorder.log("é" * 150, {"nodeId": "n", "count": 3})  # 300 bytes: at the cap
    line = recorder.take().logs[0]
    assert line["message"] == "é" * 150 and line["count"] == 3


def test_oversized_fields_are_dropped_but_the_node_is_kept() -> None:
    recorder = JobRecorder(max_lines=5, trace=Trace(), max_line_bytes=1000)
    recorder.log("big fields", {"nodeId": "n", "blob": "y" * 10_000})
    line = recorder.take().logs[0]
    assert line["nodeId"] == "n" and "blob" not in line
    assert line["fieldsDropped"] > 10_000
